//! The trees beside the log (sessions, idempotency answers, the outbox): named, ordered maps
//! of bytes, kept in the same store as the log and written through its appends.
//!
//! On sled each is a tree of the log's database; on PostgreSQL, the rows of one table
//! (`steward_beside`) with that tree's name. Either way their writes land with an append
//! ([`super::EventLog::append_all_with`]), so that what the service writes beside its events
//! needs no durable write of its own.

use crate::error::LogError;
use std::collections::HashMap;

/// The name of a tree beside the log. Names are fixed by the code that owns each tree.
pub type TreeName = &'static str;

/// Writes to trees beside the log, applied just before an append's events and made durable
/// with them. On sled each tree's writes land atomically, and a crash may keep some trees'
/// writes and not the others' (nor the events); on PostgreSQL all of them land with the
/// append's events, or none.
#[derive(Default, Debug)]
pub struct BesideWrites {
    /// In the order they were made: the value to keep, or `None` to remove.
    writes: Vec<(TreeName, Vec<u8>, Option<Vec<u8>>)>,
}

impl BesideWrites {
    /// Keeps `value` at `key` of `tree`.
    pub fn insert(&mut self, tree: TreeName, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.push((tree, key.into(), Some(value.into())));
    }

    /// Removes `key` from `tree` (removing a key that is not there is not an error).
    pub fn remove(&mut self, tree: TreeName, key: impl Into<Vec<u8>>) {
        self.writes.push((tree, key.into(), None));
    }

    /// Adds every write of `other` after these.
    pub fn extend(&mut self, other: BesideWrites) {
        self.writes.extend(other.writes);
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The writes in the order they were made.
    pub(super) fn into_writes(self) -> Vec<(TreeName, Vec<u8>, Option<Vec<u8>>)> {
        self.writes
    }

    /// What the writes leave behind: one write per key (the last one made to it), so that a
    /// store can apply them in any order.
    pub(super) fn last_per_key(self) -> Vec<(TreeName, Vec<u8>, Option<Vec<u8>>)> {
        let mut last: HashMap<(TreeName, Vec<u8>), usize> = HashMap::new();
        for (index, (tree, key, _)) in self.writes.iter().enumerate() {
            last.insert((tree, key.clone()), index);
        }
        let mut kept: Vec<usize> = last.into_values().collect();
        kept.sort_unstable();
        let mut writes: Vec<_> = self.writes.into_iter().map(Some).collect();
        kept.into_iter()
            .map(|index| writes[index].take().expect("each write is kept once"))
            .collect()
    }
}

/// Which keys of a tree a scan reads: from `from` (inclusive) to `to` (exclusive; `None`: to
/// the end), in ascending order or, if `descending`, from the end down.
#[derive(Clone, Copy, Debug)]
pub struct KeyRange<'a> {
    pub from: &'a [u8],
    pub to: Option<&'a [u8]>,
    pub descending: bool,
}

impl<'a> KeyRange<'a> {
    /// Every key, ascending.
    pub fn all() -> Self {
        Self {
            from: &[],
            to: None,
            descending: false,
        }
    }
}

/// An entry of a tree: its key and value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// How many entries one scan of a tree beside the log answers at most; scan again from the
/// last key for more.
pub const SCAN_ENTRIES_MAX: usize = 1000;

/// Reads of the trees beside the log, and writes outside an append.
pub trait BesideStore: Send + Sync {
    /// The value at `key` of `tree`.
    fn get(&self, tree: TreeName, key: &[u8]) -> Result<Option<Vec<u8>>, LogError>;

    /// Up to `limit` (at most `SCAN_ENTRIES_MAX`) entries of `tree` in `range`, in its order.
    fn scan(
        &self,
        tree: TreeName,
        range: KeyRange<'_>,
        limit: usize,
    ) -> Result<Vec<Entry>, LogError>;

    /// How many entries `tree` holds.
    fn count(&self, tree: TreeName) -> Result<u64, LogError>;

    /// Applies `writes` outside any append, for start-up chores that may be run again (the
    /// sled store makes them durable with the next append; PostgreSQL at once).
    fn apply_now(&self, writes: BesideWrites) -> Result<(), LogError>;

    /// Makes every write that has returned durable (the sled store flushes; PostgreSQL has).
    fn flush(&self) -> Result<(), LogError>;
}

/// An event log with its trees beside it: what the service runs on.
pub trait LogStore: super::EventLog + BesideStore {}

impl<T: super::EventLog + BesideStore> LogStore for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_write_to_a_key_is_the_one_kept() {
        let mut writes = BesideWrites::default();
        writes.insert("a", b"k".to_vec(), b"1".to_vec());
        writes.insert("b", b"k".to_vec(), b"2".to_vec());
        writes.remove("a", b"k".to_vec());
        writes.insert("a", b"j".to_vec(), b"3".to_vec());
        writes.insert("b", b"k".to_vec(), b"4".to_vec());
        let kept = writes.last_per_key();
        assert_eq!(
            kept,
            vec![
                ("a", b"k".to_vec(), None),
                ("a", b"j".to_vec(), Some(b"3".to_vec())),
                ("b", b"k".to_vec(), Some(b"4".to_vec())),
            ]
        );
    }
}
