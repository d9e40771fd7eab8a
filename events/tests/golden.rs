//! Golden byte fixtures: the stored form of every event variant at every schema version, frozen.
//!
//! A failure here means a stored shape changed. Do not re-bless the fixture: old records in
//! every deployed log have the old shape. Add a new variant or schema version and an upcaster
//! (see `codec.rs`). Set `STEWARD_BLESS_GOLDEN=1` only to write the fixture of a *new* variant
//! at the current version (`tests/golden/v{SCHEMA_VERSION}`); older versions' fixtures are
//! only ever read.

mod support;

use std::{collections::BTreeSet, fs, path::PathBuf};
use steward_events::{codec, Event, Feature};
use support::{as_version_1, as_version_2, sample_envelope, samples};

fn fixture_path(version: u16, kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/golden/v{version}"))
        .join(format!("{kind}.hex"))
}

#[test]
fn every_variant_has_a_sample() {
    let sampled: BTreeSet<&str> = samples().iter().map(Event::kind).collect();
    let known: BTreeSet<&str> = Event::KINDS.iter().copied().collect();
    assert_eq!(sampled, known);
    assert_eq!(
        samples().len(),
        Event::KINDS.len(),
        "one sample per variant"
    );

    // bincode writes the variant index first. Every index below the sample count is sampled
    // (checked above through the kinds); the next one must not decode, which proves no variant
    // exists beyond the samples, even one missing from `KINDS`.
    let config = bincode::config::standard();
    let mut bytes = bincode::serde::encode_to_vec(&samples()[1], config).unwrap();
    assert!(samples().len() < 251, "variant index fits one varint byte");
    bytes[0] = samples().len() as u8;
    assert!(bincode::serde::decode_from_slice::<Event, _>(&bytes, config).is_err());
}

#[test]
fn every_variant_matches_its_golden_bytes() {
    let bless = std::env::var_os("STEWARD_BLESS_GOLDEN").is_some();
    for (index, event) in samples().into_iter().enumerate() {
        let kind = event.kind();
        let envelope = sample_envelope(index as u64 + 1, event);
        let encoded = hex::encode(codec::encode(&envelope).unwrap());
        let path = fixture_path(codec::SCHEMA_VERSION, kind);
        let golden = match fs::read_to_string(&path) {
            Ok(text) => text.trim().to_owned(),
            Err(_) if bless => {
                fs::write(&path, format!("{encoded}\n")).unwrap();
                encoded.clone()
            }
            Err(error) => panic!(
                "no golden fixture for {kind} at {}: {error}",
                path.display()
            ),
        };
        assert_eq!(
            encoded, golden,
            "the stored shape of {kind} changed: add an upcaster instead"
        );
        let decoded = codec::decode(envelope.position, &hex::decode(&golden).unwrap()).unwrap();
        assert_eq!(
            decoded, envelope,
            "{kind}'s golden bytes no longer decode to the sample"
        );
    }
}

/// Reads every fixture of an older `version`, as it is: each decodes to today's event as
/// `as_version` says that version held it. Answers how many it read.
fn read_old_fixtures(version: u16, as_version: fn(Event) -> Option<Event>) -> usize {
    let mut read = 0;
    for (index, event) in samples().into_iter().enumerate() {
        let kind = event.kind();
        let Some(expected) = as_version(event) else {
            assert!(
                !fixture_path(version, kind).exists(),
                "{kind} is newer than version {version}"
            );
            continue;
        };
        let path = fixture_path(version, kind);
        let golden = fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("no version {version} fixture for {kind}: {error}"));
        let position = index as u64 + 1;
        let decoded = codec::decode(position, &hex::decode(golden.trim()).unwrap()).unwrap();
        let mut envelope = sample_envelope(position, expected);
        envelope.schema_version = version;
        assert_eq!(
            decoded, envelope,
            "{kind}'s version {version} record decodes otherwise"
        );
        read += 1;
    }
    read
}

/// Every record a version 1 log holds still decodes, upcast to today's events: the fixtures
/// written before version 2, read as they are.
#[test]
fn version_1_records_decode_upcast() {
    assert_eq!(
        read_old_fixtures(1, as_version_1),
        22,
        "the version 1 catalog had 22 variants"
    );
}

/// Every record a version 2 log holds still decodes as it was written.
#[test]
fn version_2_records_decode() {
    assert_eq!(
        read_old_fixtures(2, as_version_2),
        24,
        "the version 2 catalog had 24 variants"
    );
}

/// The last sample's record, relabelled as written at `version` (its checksum recomputed).
fn newest_variant_labelled(version: u16) -> Vec<u8> {
    let envelope = sample_envelope(1, samples().pop().unwrap());
    let mut record = codec::encode(&envelope).unwrap();
    record[1..3].copy_from_slice(&version.to_le_bytes());
    let checksum_at = record.len() - 4;
    let checksum = crc32c::crc32c(&record[..checksum_at]);
    record[checksum_at..].copy_from_slice(&checksum.to_le_bytes());
    record
}

/// A record of an older version naming a variant that version did not know is corrupt, not a
/// new event.
#[test]
fn an_old_record_of_a_later_variant_is_refused() {
    for version in [1, 2] {
        let error = codec::decode(1, &newest_variant_labelled(version)).unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&format!("unknown at schema version {version}")),
            "{error}"
        );
    }
}

/// An event stores a feature as its index: the list only ever grows at its end.
#[test]
fn features_keep_their_stored_order() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/features.txt");
    let frozen = fs::read_to_string(path).unwrap();
    let frozen: Vec<&str> = frozen.lines().collect();
    let names: Vec<&str> = Feature::ALL.iter().map(|feature| feature.name()).collect();
    assert!(
        names.starts_with(&frozen),
        "a feature moved: add new ones at the end"
    );
    assert_eq!(
        names.len(),
        frozen.len(),
        "a new feature: add it to features.txt"
    );
}
