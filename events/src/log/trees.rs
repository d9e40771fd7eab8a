//! The trees beside the log on sled: each a tree of the log's database, opened on first use.

use super::*;
use crate::log::beside::{BesideStore, Entry, KeyRange, SCAN_ENTRIES_MAX};

/// The log's own trees, which no tree beside it may be named.
const LOG_TREES: [&str; 4] = ["events", "streams", "requests", "meta"];

impl SledLog {
    /// The tree beside the log named `name`, opened once.
    fn beside_tree(&self, name: TreeName) -> Result<sled::Tree, LogError> {
        if let Some(tree) = read_lock(&self.beside).get(name) {
            return Ok(tree.clone());
        }
        if LOG_TREES.contains(&name) {
            return Err(LogError::Limit(
                "a tree beside the log takes a log tree's name",
            ));
        }
        let tree = self.db.open_tree(name)?;
        write_lock(&self.beside).insert(name, tree.clone());
        Ok(tree)
    }

    /// Applies `writes`, one atomic batch per tree in the order the trees were first written.
    pub(super) fn apply_beside(&self, writes: BesideWrites) -> Result<(), LogError> {
        let mut batches: Vec<(TreeName, sled::Batch)> = Vec::new();
        for (tree, key, value) in writes.into_writes() {
            let index = match batches.iter().position(|(name, _)| *name == tree) {
                Some(index) => index,
                None => {
                    batches.push((tree, sled::Batch::default()));
                    batches.len() - 1
                }
            };
            match value {
                Some(value) => batches[index].1.insert(key, value),
                None => batches[index].1.remove(key),
            }
        }
        for (tree, batch) in batches {
            self.beside_tree(tree)?.apply_batch(batch)?;
        }
        Ok(())
    }
}

fn read_lock<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_lock<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl BesideStore for SledLog {
    fn get(&self, tree: TreeName, key: &[u8]) -> Result<Option<Vec<u8>>, LogError> {
        Ok(self
            .beside_tree(tree)?
            .get(key)?
            .map(|value| value.to_vec()))
    }

    fn scan(
        &self,
        tree: TreeName,
        range: KeyRange<'_>,
        limit: usize,
    ) -> Result<Vec<Entry>, LogError> {
        let tree = self.beside_tree(tree)?;
        let limit = limit.min(SCAN_ENTRIES_MAX);
        let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            match (range.to, range.descending) {
                (Some(to), false) => Box::new(tree.range(range.from..to)),
                (Some(to), true) => Box::new(tree.range(range.from..to).rev()),
                (None, false) => Box::new(tree.range(range.from..)),
                (None, true) => Box::new(tree.range(range.from..).rev()),
            };
        entries
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                Ok((key.to_vec(), value.to_vec()))
            })
            .collect()
    }

    fn count(&self, tree: TreeName) -> Result<u64, LogError> {
        Ok(self.beside_tree(tree)?.len() as u64)
    }

    fn apply_now(&self, writes: BesideWrites) -> Result<(), LogError> {
        self.apply_beside(writes)
    }

    fn flush(&self) -> Result<(), LogError> {
        self.db.flush()?;
        Ok(())
    }
}
