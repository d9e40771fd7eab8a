//! Opening after a crash: re-indexing whatever tail the indexer had not written.

use super::*;

/// How many events a re-index on open gathers before writing them.
const REINDEX_CHUNK: u64 = 65_536;

impl SledLog {
    /// Brings the derived index up to the events tree and resets the in-memory heads.
    pub(super) fn recover(&self, heads: &mut Heads) -> Result<(), LogError> {
        self.indexer.sync()?;
        let last_position = match self.events.last()? {
            Some((key, value)) => segment::Stored::parse(0, &key, value)?.last(),
            None => 0,
        };
        let indexed_through = match self.streams.get(INDEXED_THROUGH_KEY)? {
            Some(bytes) => be_u64(&bytes).ok_or_else(|| LogError::Corrupt {
                position: 0,
                reason: "the stream index's watermark is malformed".into(),
            })?,
            None => {
                // Entries without a watermark are of another layout or half made: start over.
                self.streams.clear()?;
                self.requests.clear()?;
                0
            }
        };
        if indexed_through < last_position {
            let mut entries = IndexEntries::default();
            for record in self.read_from(indexed_through + 1) {
                let envelope = record?;
                entries.add(&envelope);
                if envelope.position % REINDEX_CHUNK == 0 || envelope.position == last_position {
                    std::mem::take(&mut entries).write(
                        &self.streams,
                        &self.requests,
                        envelope.position,
                    )?;
                }
            }
            self.db.flush()?;
        }
        heads.next_position = last_position + 1;
        heads.stream_versions.clear();
        Ok(())
    }
}
