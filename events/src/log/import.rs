//! Importing a portable export: envelopes that continue the log exactly.

use super::*;

impl SledLog {
    /// Appends envelopes exported from another log, keeping their positions, stream versions,
    /// ids, times and actors: the way back from a portable export. Each must continue the log
    /// exactly (the next position, its stream's next version, the stream its event belongs
    /// to); the first that does not is refused with its position and nothing of the call lands.
    pub fn import(&self, envelopes: &[Envelope]) -> Result<(), LogError> {
        if envelopes.len() > EVENTS_PER_COMMIT_MAX {
            return Err(LogError::Limit("an import exceeds EVENTS_PER_COMMIT_MAX"));
        }
        let mut heads = self.lock_heads();
        let mut next_position = heads.next_position;
        let mut versions: HashMap<StreamId, u64> = HashMap::new();
        let mut records = Vec::with_capacity(envelopes.len());
        let mut index_entries = IndexEntries::default();
        for envelope in envelopes {
            let current = match versions.get(&envelope.stream) {
                Some(&version) => version,
                None => self.cached_stream_version(&mut heads, envelope.stream)?,
            };
            contract::refuse_import(envelope, next_position, current)?;
            versions.insert(envelope.stream, envelope.stream_version);
            records.push(codec::encode(envelope)?);
            index_entries.add(envelope);
            next_position += 1;
        }
        if envelopes.is_empty() {
            return Ok(());
        }
        self.write_durably(
            &mut heads,
            BesideWrites::default(),
            records,
            next_position,
            versions,
            index_entries,
        )
    }
}
