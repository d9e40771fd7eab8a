//! The trees beside the log on PostgreSQL: rows of `steward_beside`, keyed by tree and key.
//! Written with an append, in its statement ([`Staged::add_beside`]).

use super::{PgLog, Staged};
use crate::log::beside::{BesideStore, BesideWrites, Entry, KeyRange, TreeName, SCAN_ENTRIES_MAX};
use crate::LogError;
use ::postgres::types::ToSql;

impl Staged {
    /// Stages what `writes` leave behind, one row change per key.
    pub(super) fn add_beside(&mut self, writes: BesideWrites) {
        for (tree, key, value) in writes.last_per_key() {
            match value {
                Some(value) => {
                    self.kept_trees.push(tree);
                    self.kept_keys.push(key);
                    self.kept_values.push(value);
                }
                None => {
                    self.removed_trees.push(tree);
                    self.removed_keys.push(key);
                }
            }
        }
    }
}

impl BesideStore for PgLog {
    fn get(&self, tree: TreeName, key: &[u8]) -> Result<Option<Vec<u8>>, LogError> {
        let row = self.readers.with(|client| {
            client.query_opt(
                "SELECT value FROM steward_beside WHERE tree = $1 AND key = $2",
                &[&tree, &key],
            )
        })?;
        Ok(row.map(|row| row.get(0)))
    }

    fn scan(
        &self,
        tree: TreeName,
        range: KeyRange<'_>,
        limit: usize,
    ) -> Result<Vec<Entry>, LogError> {
        let limit = limit.min(SCAN_ENTRIES_MAX) as i64;
        // Without an end, the bound is left out of the statement rather than passed as NULL,
        // so that every statement can use the primary key's order.
        let statement = match (range.to.is_some(), range.descending) {
            (true, false) => {
                "SELECT key, value FROM steward_beside WHERE tree = $1 AND key >= $2 \
                 AND key < $4 ORDER BY key LIMIT $3"
            }
            (true, true) => {
                "SELECT key, value FROM steward_beside WHERE tree = $1 AND key >= $2 \
                 AND key < $4 ORDER BY key DESC LIMIT $3"
            }
            (false, false) => {
                "SELECT key, value FROM steward_beside WHERE tree = $1 AND key >= $2 \
                 ORDER BY key LIMIT $3"
            }
            (false, true) => {
                "SELECT key, value FROM steward_beside WHERE tree = $1 AND key >= $2 \
                 ORDER BY key DESC LIMIT $3"
            }
        };
        let rows = self.readers.with(|client| {
            let mut parameters: Vec<&(dyn ToSql + Sync)> = vec![&tree, &range.from, &limit];
            if let Some(to) = &range.to {
                parameters.push(to);
            }
            client.query(statement, &parameters)
        })?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect())
    }

    fn count(&self, tree: TreeName) -> Result<u64, LogError> {
        let count: i64 = self.readers.with(|client| {
            client
                .query_one(
                    "SELECT count(*) FROM steward_beside WHERE tree = $1",
                    &[&tree],
                )
                .map(|row| row.get(0))
        })?;
        Ok(count as u64)
    }

    fn apply_now(&self, writes: BesideWrites) -> Result<(), LogError> {
        let mut staged = Staged::default();
        staged.add_beside(writes);
        self.readers.with(|client| {
            let mut transaction = client.transaction()?;
            transaction.execute(
                "INSERT INTO steward_beside (tree, key, value)
                 SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])
                 ON CONFLICT (tree, key) DO UPDATE SET value = excluded.value",
                &[&staged.kept_trees, &staged.kept_keys, &staged.kept_values],
            )?;
            transaction.execute(
                "DELETE FROM steward_beside b
                 USING unnest($1::text[], $2::bytea[]) AS r (tree, key)
                 WHERE b.tree = r.tree AND b.key = r.key",
                &[&staged.removed_trees, &staged.removed_keys],
            )?;
            transaction.commit()
        })
    }

    fn flush(&self) -> Result<(), LogError> {
        // Every write committed before it returned.
        Ok(())
    }
}
