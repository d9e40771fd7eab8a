//! How records sit in the `events` tree: one record under its position, or a segment of the
//! consecutive records of one append under the position of its first.
//!
//! A value is either
//! - one record (`codec`, format byte 0x01): what every log held before segments, and what an
//!   append of one event still writes; or
//! - a segment (format byte 0x02):
//!
//! ```text
//! [format: u8 = 0x02][count: u16 LE][ends: count × u32 LE][crc32c of the bytes before: u32 LE][records]
//! ```
//!   where record `i` spans `ends[i - 1]..ends[i]` of the records (from 0 for the first), and
//!   each record is a whole format-0x01 record with its own checksum and position.
//!
//! sled's cost is per value written, not per byte: one value for the many records of a group
//! commit makes an append of usage records cost about what their request-id index entries do,
//! rather than one more value each. Both kinds are read alike, so a log written before
//! segments needs no migration, and one event still costs one value.

use super::*;
use crate::limits::{SEGMENT_BYTES_MAX, SEGMENT_RECORDS_MAX};

/// The segment layout's format byte; a single record's is `codec::FORMAT_BYTE`.
pub const SEGMENT_FORMAT_BYTE: u8 = 0x02;

const COUNT_BYTES: usize = 2;
const END_BYTES: usize = 4;
const CHECKSUM_BYTES: usize = 4;

/// Adds `records`, which take consecutive positions from `first`, to `batch`: segments of at
/// most `SEGMENT_RECORDS_MAX` records and about `SEGMENT_BYTES_MAX` bytes (a record is never
/// split, so a segment exceeds the bound only by holding one big record), and a lone record
/// as it is.
pub(super) fn pack(first: u64, records: Vec<Vec<u8>>, batch: &mut sled::Batch) {
    let mut position = first;
    let mut chunk: Vec<Vec<u8>> = Vec::new();
    let mut chunk_bytes = 0usize;
    let mut records = records.into_iter().peekable();
    while let Some(record) = records.next() {
        chunk_bytes += record.len();
        chunk.push(record);
        let full = records.peek().is_none_or(|next| {
            chunk.len() == SEGMENT_RECORDS_MAX || chunk_bytes + next.len() > SEGMENT_BYTES_MAX
        });
        if full {
            let count = chunk.len() as u64;
            batch.insert(
                &position.to_be_bytes()[..],
                encode(std::mem::take(&mut chunk)),
            );
            position += count;
            chunk_bytes = 0;
        }
    }
}

/// One value: a lone record as it is, several as a segment.
fn encode(mut records: Vec<Vec<u8>>) -> Vec<u8> {
    if records.len() == 1 {
        return records.pop().expect("one record");
    }
    let head_bytes = 1 + COUNT_BYTES + END_BYTES * records.len();
    let body_bytes: usize = records.iter().map(Vec::len).sum();
    let mut value = Vec::with_capacity(head_bytes + CHECKSUM_BYTES + body_bytes);
    value.push(SEGMENT_FORMAT_BYTE);
    value.extend_from_slice(&(records.len() as u16).to_le_bytes());
    let mut end = 0u32;
    for record in &records {
        // Bounded: at most SEGMENT_RECORDS_MAX records of at most RECORD_BYTES_MAX each.
        end += record.len() as u32;
        value.extend_from_slice(&end.to_le_bytes());
    }
    let checksum = crc32c::crc32c(&value);
    value.extend_from_slice(&checksum.to_le_bytes());
    for record in &records {
        value.extend_from_slice(record);
    }
    value
}

/// A value of the `events` tree, checked enough to find its records: the positions it holds
/// and where each record's bytes are. The records themselves are checked when decoded. Public
/// for tools that read the tree raw (the benchmarks' baseline).
pub struct Stored {
    first: u64,
    value: sled::IVec,
    /// Where the records start, and the end of each (empty for a lone record).
    body: usize,
    ends: Vec<u32>,
}

impl Stored {
    /// Parses the value stored under `key`. `expected` is the position a reader wanted, named
    /// in the error when the key itself is malformed.
    pub fn parse(expected: u64, key: &[u8], value: sled::IVec) -> Result<Self, LogError> {
        let first = be_u64(key).ok_or_else(|| LogError::Corrupt {
            position: expected,
            reason: "an events key is not eight bytes".into(),
        })?;
        if value.first() != Some(&SEGMENT_FORMAT_BYTE) {
            // A lone record, checked when decoded.
            return Ok(Self {
                first,
                value,
                body: 0,
                ends: Vec::new(),
            });
        }
        let corrupt = |reason: String| LogError::Corrupt {
            position: first,
            reason: format!("the segment starting here {reason}"),
        };
        let count = value
            .get(1..1 + COUNT_BYTES)
            .map(|bytes| usize::from(u16::from_le_bytes([bytes[0], bytes[1]])))
            .ok_or_else(|| corrupt("is truncated".into()))?;
        let covered = 1 + COUNT_BYTES + END_BYTES * count;
        let body = covered + CHECKSUM_BYTES;
        let (Some(head), Some(stored)) = (value.get(..covered), value.get(covered..body)) else {
            return Err(corrupt("is truncated".into()));
        };
        let stored = u32::from_le_bytes(stored.try_into().expect("four bytes"));
        let computed = crc32c::crc32c(head);
        if stored != computed {
            return Err(corrupt(format!(
                "has a header checksum mismatch: stored {stored:08x}, computed {computed:08x}"
            )));
        }
        let ends: Vec<u32> = head[1 + COUNT_BYTES..]
            .chunks_exact(END_BYTES)
            .map(|bytes| u32::from_le_bytes(bytes.try_into().expect("four bytes")))
            .collect();
        let sorted = ends.windows(2).all(|pair| pair[0] <= pair[1]);
        if count < 2 || !sorted || ends.last().map(|&end| body + end as usize) != Some(value.len())
        {
            return Err(corrupt(format!(
                "does not hold the {count} records its header lists"
            )));
        }
        Ok(Self {
            first,
            value,
            body,
            ends,
        })
    }

    /// The position of its first record.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// How many records it holds.
    pub fn count(&self) -> u64 {
        self.ends.len().max(1) as u64
    }

    /// The position of its last record.
    pub fn last(&self) -> u64 {
        self.first + self.count() - 1
    }

    /// The stored bytes of the record at `position`, if this value holds that position.
    pub fn record(&self, position: u64) -> Option<&[u8]> {
        let index = usize::try_from(position.checked_sub(self.first)?).ok()?;
        if self.ends.is_empty() {
            return (index == 0).then_some(&self.value[..]);
        }
        let end = *self.ends.get(index)? as usize;
        let start = index
            .checked_sub(1)
            .map_or(0, |previous| self.ends[previous] as usize);
        Some(&self.value[self.body + start..self.body + end])
    }

    /// The record at `position`, decoded, if this value holds that position.
    pub fn decode(&self, position: u64) -> Option<Result<Envelope, LogError>> {
        self.record(position)
            .map(|record| codec::decode(position, record))
    }
}
