//! Stores whose entries expire (sessions, idempotency answers, outbox messages): a tree of
//! values beside the log, and an index tree `{name}_expiry` of (expiry, key), so that a sweep
//! reads only what has expired. Writes go through the command processor's group commit
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
use steward_events::{BesideWrites, KeyRange, LogError, LogStore, Timestamp, TreeName};

/// When an entry expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry(pub Timestamp);

impl Expiry {
    /// The instant as eight bytes that sort as instants do: offset so that every instant sorts
    /// by its bytes, and after the marker ('#' < 0x80).
    pub fn sort_key(self) -> [u8; 8] {
        ((self.0.unix_micros() as u64) ^ (1 << 63)).to_be_bytes()
    }
}

/// The index key marking that every value of the tree is indexed (set by `open`).
const INDEXED_MARKER: &[u8] = b"#indexed";

/// How many values one read of a tree takes while walking it.
const WALK_PAGE: usize = 256;

/// How a store reads the expiry out of one of its values.
pub type ExpiryOf = Box<dyn Fn(&[u8]) -> Expiry + Send + Sync>;

pub struct ExpiringTree {
    store: Arc<dyn LogStore>,
    values: TreeName,
    expiries: TreeName,
    writer: DurableWriter,
    expiry_of: ExpiryOf,
}

fn index_key(expiry: Expiry, key: &[u8]) -> Vec<u8> {
    let mut index = Vec::with_capacity(8 + key.len());
    index.extend_from_slice(&expiry.sort_key());
    index.extend_from_slice(key);
    index
}

impl ExpiringTree {
    /// Opens the tree `values` and its index `expiries`, indexing once the values an earlier
    /// version wrote without one (writes outside any append, made durable by the next one; an
    /// interrupted run is simply run again).
    pub fn open(
        store: &Arc<dyn LogStore>,
        (values, expiries): (TreeName, TreeName),
        writer: DurableWriter,
        expiry_of: impl Fn(&[u8]) -> Expiry + Send + Sync + 'static,
    ) -> Result<Self, LogError> {
        let tree = Self {
            store: Arc::clone(store),
            values,
            expiries,
            writer,
            expiry_of: Box::new(expiry_of),
        };
        if tree.store.get(expiries, INDEXED_MARKER)?.is_none() {
            let mut from = Vec::new();
            loop {
                let range = KeyRange {
                    from: &from,
                    to: None,
                    descending: false,
                };
                let page = tree.store.scan(values, range, WALK_PAGE)?;
                let Some((last, _)) = page.last() else {
                    break;
                };
                from = [&last[..], &[0]].concat();
                let mut writes = BesideWrites::default();
                for (key, value) in &page {
                    writes.insert(
                        expiries,
                        index_key((tree.expiry_of)(value), key),
                        Vec::new(),
                    );
                }
                tree.store.apply_now(writes)?;
            }
            let mut marker = BesideWrites::default();
            marker.insert(expiries, INDEXED_MARKER, Vec::new());
            tree.store.apply_now(marker)?;
        }
        Ok(tree)
    }

    /// The value at `key`, unless it expired by `now`.
    pub fn get(&self, key: &[u8], now: Timestamp) -> Result<Option<Vec<u8>>, LogError> {
        Ok(self
            .store
            .get(self.values, key)?
            .filter(|value| (self.expiry_of)(value).0 > now))
    }

    /// The live values with the greatest keys, at most `limit`, greatest first (for listings).
    pub fn newest_live(&self, now: Timestamp, limit: usize) -> Result<Vec<Vec<u8>>, LogError> {
        let mut live = Vec::new();
        let mut before: Option<Vec<u8>> = None;
        loop {
            let range = KeyRange {
                from: &[],
                to: before.as_deref(),
                descending: true,
            };
            let page = self.store.scan(self.values, range, WALK_PAGE)?;
            let Some((last, _)) = page.last() else {
                return Ok(live);
            };
            before = Some(last.clone());
            for (_, value) in page {
                if (self.expiry_of)(&value).0 > now {
                    live.push(value);
                    if live.len() == limit {
                        return Ok(live);
                    }
                }
            }
        }
    }

    /// Keeps `value` at `key` until `expiry`; returns once durable.
    pub async fn insert(
        &self,
        key: &[u8],
        value: Vec<u8>,
        expiry: Expiry,
    ) -> Result<(), CommandError> {
        self.insert_with(key, value, expiry, BesideWrites::default())
            .await
    }

    /// `insert`, with `also` (writes to this tree or others) made durable in the same write.
    pub async fn insert_with(
        &self,
        key: &[u8],
        value: Vec<u8>,
        expiry: Expiry,
        mut also: BesideWrites,
    ) -> Result<(), CommandError> {
        also.extend(self.insertion(key, value, expiry));
        self.writer.write(also).await
    }

    /// The writes that keep `value` at `key` until `expiry`, to be made durable with a
    /// command (`Steward::execute_with`).
    pub fn insertion(&self, key: &[u8], value: Vec<u8>, expiry: Expiry) -> BesideWrites {
        let mut writes = BesideWrites::default();
        writes.insert(self.values, key, value);
        writes.insert(self.expiries, index_key(expiry, key), Vec::new());
        writes
    }

    /// Removes the value at `key` now (its index entry goes with the sweep); returns once
    /// durable.
    pub async fn remove(&self, key: &[u8]) -> Result<(), CommandError> {
        let mut writes = BesideWrites::default();
        writes.remove(self.values, key);
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
        // Index keys sort after the marker, which the range starts beyond.
        let expired = KeyRange {
            from: &[0x80u8],
            to: Some(&end),
            descending: false,
        };
        let mut swept = 0;
        loop {
            let chunk = (self.store).scan(self.expiries, expired, SWEEP_CHUNK_MAX)?;
            if chunk.is_empty() {
                return Ok(swept);
            }
            let mut writes = BesideWrites::default();
            for (index, _) in &chunk {
                let key = &index[8..];
                // A value written again since this entry carries a later expiry: it stays.
                if let Some(value) = self.store.get(self.values, key)? {
                    if (self.expiry_of)(&value).0 <= now {
                        writes.remove(self.values, key);
                    }
                }
                writes.remove(self.expiries, index.clone());
            }
            self.writer.write(writes).await?;
            swept += chunk.len();
        }
    }

    /// How many values are kept.
    pub fn count(&self) -> Result<u64, LogError> {
        self.store.count(self.values)
    }
}
