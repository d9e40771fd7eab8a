//! Stores whose entries expire (sessions, idempotency answers, outbox messages): a sled tree of
//! values beside an index tree `{name}_expiry` of (expiry, key), so that a sweep reads only
//! what has expired. Writes go through the command processor's group commit
//! (`DurableWriter`), like every write beside the log.
//!
//! Each store says how to read a value's expiry (`expiry_of`), so that reads never return an
//! expired value and the sweep never removes a value written again since its index entry.
//! The value and its index entry are written in one group commit; should a crash keep one
//! without the other, an unindexed value is never swept (it still expires when read) and an
//! index entry without a value is dropped by the sweep.

use crate::{
    limits::SWEEP_CHUNK_MAX,
    processor::{CommandError, DurableWriter},
};
use std::sync::Arc;
use steward_events::{BesideWrites, LogError, Timestamp};

/// When an entry expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry(pub Timestamp);

/// The index key marking that every value of the tree is indexed (set by `index_existing`).
const INDEXED_MARKER: &[u8] = b"#indexed";

/// How a store reads the expiry out of one of its values.
pub type ExpiryOf = Box<dyn Fn(&[u8]) -> Expiry + Send + Sync>;

pub struct ExpiringTree {
    values: sled::Tree,
    expiries: sled::Tree,
    writer: DurableWriter,
    expiry_of: ExpiryOf,
}

fn index_key(expiry: Expiry, key: &[u8]) -> Vec<u8> {
    let mut index = Vec::with_capacity(8 + key.len());
    // Offset so that every instant sorts by its bytes, and after the marker ('#' < 0x80).
    let micros = (expiry.0.unix_micros() as u64) ^ (1 << 63);
    index.extend_from_slice(&micros.to_be_bytes());
    index.extend_from_slice(key);
    index
}

fn storage(error: sled::Error) -> CommandError {
    CommandError::Storage(Arc::new(LogError::from(error)))
}

impl ExpiringTree {
    /// Opens the tree `name` and its index, indexing once the values an earlier version wrote
    /// without one (plain inserts, made durable by the next group commit; an interrupted run
    /// is simply run again).
    pub fn open(
        db: &sled::Db,
        name: &str,
        writer: DurableWriter,
        expiry_of: impl Fn(&[u8]) -> Expiry + Send + Sync + 'static,
    ) -> sled::Result<Self> {
        let tree = Self {
            values: db.open_tree(name)?,
            expiries: db.open_tree(format!("{name}_expiry"))?,
            writer,
            expiry_of: Box::new(expiry_of),
        };
        if !tree.expiries.contains_key(INDEXED_MARKER)? {
            for entry in tree.values.iter() {
                let (key, value) = entry?;
                let index = index_key((tree.expiry_of)(&value), &key);
                tree.expiries.insert(index, &[][..])?;
            }
            tree.expiries.insert(INDEXED_MARKER, &[][..])?;
        }
        Ok(tree)
    }

    /// The value at `key`, unless it expired by `now`.
    pub fn get(&self, key: &[u8], now: Timestamp) -> sled::Result<Option<sled::IVec>> {
        Ok(self
            .values
            .get(key)?
            .filter(|value| (self.expiry_of)(value).0 > now))
    }

    /// The live values with the greatest keys, at most `limit`, greatest first (for listings).
    pub fn newest_live(&self, now: Timestamp, limit: usize) -> sled::Result<Vec<sled::IVec>> {
        let mut live = Vec::new();
        for entry in self.values.iter().rev() {
            let (_, value) = entry?;
            if (self.expiry_of)(&value).0 > now {
                live.push(value);
                if live.len() == limit {
                    break;
                }
            }
        }
        Ok(live)
    }

    /// Keeps `value` at `key` until `expiry`; returns once durable.
    pub async fn insert(
        &self,
        key: &[u8],
        value: Vec<u8>,
        expiry: Expiry,
    ) -> Result<(), CommandError> {
        self.writer.write(self.insertion(key, value, expiry)).await
    }

    /// The writes that keep `value` at `key` until `expiry`, to be made durable with a
    /// command (`Steward::execute_with`).
    pub fn insertion(&self, key: &[u8], value: Vec<u8>, expiry: Expiry) -> BesideWrites {
        let mut values = sled::Batch::default();
        values.insert(key, value);
        let mut expiries = sled::Batch::default();
        expiries.insert(index_key(expiry, key), &[][..]);
        let mut writes = BesideWrites::default();
        writes.push(&self.values, values);
        writes.push(&self.expiries, expiries);
        writes
    }

    /// Removes the value at `key` now (its index entry goes with the sweep); returns once
    /// durable.
    pub async fn remove(&self, key: &[u8]) -> Result<(), CommandError> {
        let mut values = sled::Batch::default();
        values.remove(key);
        let mut writes = BesideWrites::default();
        writes.push(&self.values, values);
        self.writer.write(writes).await
    }

    /// Removes every entry expired at `now`, `SWEEP_CHUNK_MAX` per group commit; returns how
    /// many index entries it removed.
    pub async fn sweep(&self, now: Timestamp) -> Result<usize, CommandError> {
        // Everything expiring at `now` or before: up to the first key of the next microsecond.
        let end = index_key(
            Expiry(Timestamp::from_unix_micros(
                now.unix_micros().saturating_add(1),
            )),
            &[],
        );
        let mut swept = 0;
        loop {
            let mut values = sled::Batch::default();
            let mut expiries = sled::Batch::default();
            let mut chunk = 0;
            // Index keys sort after the marker, which the range starts beyond.
            for entry in self
                .expiries
                .range(&[0x80u8][..]..end.as_slice())
                .take(SWEEP_CHUNK_MAX)
            {
                let (index, _) = entry.map_err(storage)?;
                let key = &index[8..];
                // A value written again since this entry carries a later expiry: it stays.
                if let Some(value) = self.values.get(key).map_err(storage)? {
                    if (self.expiry_of)(&value).0 <= now {
                        values.remove(key);
                    }
                }
                expiries.remove(index);
                chunk += 1;
            }
            if chunk == 0 {
                return Ok(swept);
            }
            let mut writes = BesideWrites::default();
            writes.push(&self.values, values);
            writes.push(&self.expiries, expiries);
            self.writer.write(writes).await?;
            swept += chunk;
        }
    }

    /// How many values are kept.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}
