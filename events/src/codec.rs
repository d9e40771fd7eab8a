//! The stored record: a format byte, a schema version, the bincode body, a CRC32C checksum.
//!
//! ```text
//! [format: u8 = 0x01][schema_version: u16 LE][body: bincode 2, serde, standard config][crc32c: u32 LE]
//! ```
//! The checksum covers every byte before it and is checked on every read. The body is the
//! envelope's fields in order, then the event: bincode writes an enum as its variant index (a
//! varint) followed by the variant's fields.
//!
//! Upcasting: when an event's stored shape must change, freeze its old shape in `v1` (or the
//! next module), bump `SCHEMA_VERSION`, and make the old version's decoder read the frozen shape
//! and convert it to the current one. The golden fixtures (`tests/golden.rs`) keep every version
//! decodable.
//!
//! - Version 1: the catalog up to `UsageRecorded`, which had no `features`.
//! - Version 2: `UsageRecorded` carries `features`; `ModelAccessGranted` and
//!   `ModelAccessRevoked` are new. Every other variant is stored as in version 1.
//! - Version 3: `ApiKeyOwnerChanged`, `ApiKeyRotated`, `TagBudgetSet`, `TagBudgetRemoved` and
//!   `TagBudgetPassed` are new. Every other variant is stored as in version 2.

use crate::{
    catalog::Event,
    envelope::{Actor, Envelope, StreamId},
    error::LogError,
    ids::EventId,
    time::Timestamp,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The record layout this module writes and reads.
pub const FORMAT_BYTE: u8 = 0x01;
/// The event catalog's schema version that new records are written with.
pub const SCHEMA_VERSION: u16 = 3;

const HEADER_BYTES: usize = 3;
const CHECKSUM_BYTES: usize = 4;

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard()
}

/// The body as written: borrows the event so that encoding copies nothing.
#[derive(Serialize)]
struct BodyRef<'a> {
    position: u64,
    stream: StreamId,
    stream_version: u64,
    event_id: EventId,
    recorded_at: Timestamp,
    actor: Actor,
    correlation_id: Uuid,
    event: &'a Event,
}

/// The envelope's fields as read, at every schema version so far; the event follows them.
#[derive(Deserialize)]
struct Head {
    position: u64,
    stream: StreamId,
    stream_version: u64,
    event_id: EventId,
    recorded_at: Timestamp,
    actor: Actor,
    correlation_id: Uuid,
}

/// Encodes an envelope as a stored record at the current schema version.
pub fn encode(envelope: &Envelope) -> Result<Vec<u8>, LogError> {
    let body = BodyRef {
        position: envelope.position,
        stream: envelope.stream,
        stream_version: envelope.stream_version,
        event_id: envelope.event_id,
        recorded_at: envelope.recorded_at,
        actor: envelope.actor,
        correlation_id: envelope.correlation_id,
        event: &envelope.event,
    };
    let mut record = Vec::with_capacity(128);
    record.push(FORMAT_BYTE);
    record.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    bincode::serde::encode_into_std_write(&body, &mut record, bincode_config())
        .map_err(|error| LogError::Encode(error.to_string()))?;
    let checksum = crc32c::crc32c(&record);
    record.extend_from_slice(&checksum.to_le_bytes());
    if record.len() > crate::limits::RECORD_BYTES_MAX {
        return Err(LogError::Limit(
            "an event's record exceeds RECORD_BYTES_MAX",
        ));
    }
    Ok(record)
}

/// The most bytes a record spends around its event: the header, the checksum, and the
/// envelope's fields at their widest (varint positions and versions, UUIDs, an actor with two
/// ids), generously rounded up.
const ENVELOPE_BYTES_MAX: usize = 160;

/// Whether `event` fits in one record whatever envelope it gets: what the command processor
/// checks before it lets a decision change the write model, so that the log never refuses a
/// decided event.
pub fn fits(event: &Event) -> bool {
    bincode::serde::encode_to_vec(event, bincode_config())
        .is_ok_and(|body| body.len() + ENVELOPE_BYTES_MAX <= crate::limits::RECORD_BYTES_MAX)
}

/// Decodes the record stored under `position`, checking its checksum, layout and position.
pub fn decode(position: u64, record: &[u8]) -> Result<Envelope, LogError> {
    let corrupt = |reason: String| LogError::Corrupt { position, reason };
    if record.len() < HEADER_BYTES + CHECKSUM_BYTES {
        return Err(corrupt(format!("truncated: {} bytes", record.len())));
    }
    let (covered, stored_checksum) = record.split_at(record.len() - CHECKSUM_BYTES);
    let stored_checksum = u32::from_le_bytes(stored_checksum.try_into().expect("four bytes"));
    let computed_checksum = crc32c::crc32c(covered);
    if stored_checksum != computed_checksum {
        return Err(corrupt(format!(
            "checksum mismatch: stored {stored_checksum:08x}, computed {computed_checksum:08x}"
        )));
    }
    if covered[0] != FORMAT_BYTE {
        return Err(corrupt(format!("unknown format byte {:#04x}", covered[0])));
    }
    let schema_version = u16::from_le_bytes([covered[1], covered[2]]);
    let body = &covered[HEADER_BYTES..];
    if !(1..=SCHEMA_VERSION).contains(&schema_version) {
        return Err(corrupt(format!("unknown schema version {schema_version}")));
    }
    let envelope = decode_body(body, schema_version).map_err(corrupt)?;
    if envelope.position != position {
        return Err(corrupt(format!(
            "record names position {}, stored under {position}",
            envelope.position
        )));
    }
    Ok(envelope)
}

/// Decodes `bytes` as exactly one `T`.
fn decode_whole<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (decoded, read): (T, usize) = bincode::serde::decode_from_slice(bytes, bincode_config())
        .map_err(|error| format!("undecodable: {error}"))?;
    if read != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - read));
    }
    Ok(decoded)
}

fn decode_body(body: &[u8], schema_version: u16) -> Result<Envelope, String> {
    let (head, read): (Head, usize) = bincode::serde::decode_from_slice(body, bincode_config())
        .map_err(|error| format!("undecodable: {error}"))?;
    let event = &body[read..];
    let event = match schema_version {
        1 => v1::decode_event(event)?,
        2 => decode_known_variant(event, v2::VARIANTS, 2)?,
        _ => decode_whole(event)?,
    };
    Ok(Envelope {
        position: head.position,
        stream: head.stream,
        stream_version: head.stream_version,
        event_id: head.event_id,
        recorded_at: head.recorded_at,
        actor: head.actor,
        correlation_id: head.correlation_id,
        schema_version,
        event,
    })
}

/// An event of a version whose variants were stored as today's, the first `known` of them: a
/// later variant's index there is corruption, not a new event.
fn decode_known_variant(bytes: &[u8], known: u32, schema_version: u16) -> Result<Event, String> {
    let (index, _): (u32, usize) = bincode::serde::decode_from_slice(bytes, bincode_config())
        .map_err(|error| format!("undecodable: {error}"))?;
    if index >= known {
        return Err(format!(
            "variant {index} is unknown at schema version {schema_version}"
        ));
    }
    decode_whole(bytes)
}

/// Schema version 2, frozen: its variants are stored as today's.
mod v2 {
    /// How many variants version 2 knew (up to `ModelAccessRevoked`).
    pub const VARIANTS: u32 = 24;
}

/// Schema version 1, frozen: only `UsageRecorded` differs from today's shape.
mod v1 {
    use super::decode_whole;
    use crate::{
        catalog::{Deployment, Endpoint, Event, RequestMethod, UsageUnits},
        ids::{KeyId, ProjectId, RequestId},
        money::Nanodollars,
        values::Tag,
    };
    use serde::Deserialize;

    /// `UsageRecorded`'s variant index, the last of version 1.
    pub const USAGE_RECORDED: u32 = 21;

    /// `UsageRecorded`'s fields at version 1.
    #[derive(Deserialize)]
    struct UsageRecorded {
        project_id: ProjectId,
        request_id: RequestId,
        key_id: KeyId,
        tags: Vec<Tag>,
        endpoint: Endpoint,
        method: RequestMethod,
        model: String,
        deployment: Deployment,
        units: UsageUnits,
        cost: Nanodollars,
        status_code: u16,
    }

    /// A version 1 event: a request recorded then used no feature Steward knew of; every other
    /// variant (all of them before it) reads as today's. Version 1 knew no later variant.
    pub fn decode_event(bytes: &[u8]) -> Result<Event, String> {
        let (index, read): (u32, usize) =
            bincode::serde::decode_from_slice(bytes, super::bincode_config())
                .map_err(|error| format!("undecodable: {error}"))?;
        match index {
            USAGE_RECORDED => {
                let old: UsageRecorded = decode_whole(&bytes[read..])?;
                Ok(Event::UsageRecorded {
                    project_id: old.project_id,
                    request_id: old.request_id,
                    key_id: old.key_id,
                    tags: old.tags,
                    endpoint: old.endpoint,
                    method: old.method,
                    model: old.model,
                    deployment: old.deployment,
                    units: old.units,
                    cost: old.cost,
                    status_code: old.status_code,
                    features: Vec::new(),
                })
            }
            index if index < USAGE_RECORDED => decode_whole(bytes),
            index => Err(format!("variant {index} is unknown at schema version 1")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;

    fn sample() -> Envelope {
        let account_id = AccountId::from_uuid(Uuid::from_u128(7));
        Envelope {
            position: 42,
            stream: StreamId::Account(account_id),
            stream_version: 1,
            event_id: EventId::from_uuid(Uuid::from_u128(1)),
            recorded_at: Timestamp::from_unix_micros(1_700_000_000_000_000),
            actor: Actor::System,
            correlation_id: Uuid::from_u128(2),
            schema_version: SCHEMA_VERSION,
            event: Event::AccountDeleted { account_id },
        }
    }

    /// `fits` agrees with `encode` at the widest envelope, on both sides of the limit.
    #[test]
    fn fits_says_whether_encode_will_refuse_whatever_the_envelope() {
        let widest = |event: Event| Envelope {
            position: u64::MAX,
            stream: event.stream(),
            stream_version: u64::MAX,
            event_id: EventId::from_uuid(Uuid::from_u128(u128::MAX)),
            recorded_at: Timestamp::from_unix_micros(i64::MAX),
            actor: Actor::Key {
                key_id: crate::ids::KeyId::from_uuid(Uuid::from_u128(u128::MAX)),
                account_id: AccountId::from_uuid(Uuid::from_u128(u128::MAX)),
            },
            correlation_id: Uuid::from_u128(u128::MAX),
            schema_version: SCHEMA_VERSION,
            event,
        };
        let renamed = |bytes: usize| Event::ProjectRenamed {
            project_id: crate::ids::ProjectId::from_uuid(Uuid::from_u128(1)),
            name: "x".repeat(bytes),
        };
        let mut largest_fitting = 0;
        for bytes in (crate::limits::RECORD_BYTES_MAX - 400)..crate::limits::RECORD_BYTES_MAX {
            let event = renamed(bytes);
            if fits(&event) {
                assert!(
                    encode(&widest(event)).is_ok(),
                    "fits, yet refused at {bytes}"
                );
                largest_fitting = bytes;
            }
        }
        assert!(largest_fitting > crate::limits::RECORD_BYTES_MAX - 400);
        assert!(!fits(&renamed(crate::limits::RECORD_BYTES_MAX)));
        assert!(encode(&widest(renamed(crate::limits::RECORD_BYTES_MAX))).is_err());
    }

    #[test]
    fn a_record_round_trips() {
        let record = encode(&sample()).unwrap();
        assert_eq!(decode(42, &record).unwrap(), sample());
    }

    #[test]
    fn every_flipped_bit_is_caught_with_the_position() {
        let record = encode(&sample()).unwrap();
        for index in 0..record.len() {
            for bit in 0..8 {
                let mut damaged = record.clone();
                damaged[index] ^= 1 << bit;
                match decode(42, &damaged) {
                    Err(LogError::Corrupt { position: 42, .. }) => {}
                    other => panic!("byte {index} bit {bit}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn every_truncation_is_caught_with_the_position() {
        let record = encode(&sample()).unwrap();
        for length in 0..record.len() {
            assert!(matches!(
                decode(42, &record[..length]),
                Err(LogError::Corrupt { position: 42, .. })
            ));
        }
    }

    #[test]
    fn a_record_moved_to_another_position_is_caught() {
        let record = encode(&sample()).unwrap();
        assert!(matches!(
            decode(43, &record),
            Err(LogError::Corrupt { position: 43, .. })
        ));
    }
}
