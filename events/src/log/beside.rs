//! Writes to the trees beside the log, made durable by an append's flush.

/// Writes to trees of the log's database other than its own (sessions, idempotency answers,
/// the outbox), applied just before an append's events and made durable by the same flush.
/// Each tree's writes land atomically; together with the events they land before the append
/// returns, but a crash may keep some trees' writes and not the others'.
#[derive(Default)]
pub struct BesideWrites {
    batches: Vec<(sled::Tree, sled::Batch)>,
}

impl BesideWrites {
    /// Adds `batch` for `tree`, to be applied after the batches added before it.
    pub fn push(&mut self, tree: &sled::Tree, batch: sled::Batch) {
        self.batches.push((tree.clone(), batch));
    }

    /// Adds every batch of `other` after these.
    pub fn extend(&mut self, other: BesideWrites) {
        self.batches.extend(other.batches);
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    pub(super) fn apply(self) -> sled::Result<()> {
        for (tree, batch) in self.batches {
            tree.apply_batch(batch)?;
        }
        Ok(())
    }
}
