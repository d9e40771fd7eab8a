//! Appending: each commit staged under its version checks, then one atomic batch and one
//! flush for all of them (group commit).

use super::*;

impl SledLog {
    /// Appends one commit and flushes. Shorthand for a one-commit `append_all`.
    pub fn append(&self, commit: Commit) -> Result<Vec<Envelope>, LogError> {
        let mut outcomes = self.append_all(vec![commit])?;
        outcomes.pop().expect("one outcome per commit")
    }

    /// Appends many commits with one atomic batch and one flush (group commit).
    ///
    /// Each commit is checked on its own against the versions its predecessors in the same call
    /// leave behind; a commit that fails its check is left out and the others still land. The
    /// outer error means storage failed and nothing of this call can be trusted to have landed.
    pub fn append_all(&self, commits: Vec<Commit>) -> Result<Vec<AppendOutcome>, LogError> {
        self.append_all_with(commits, BesideWrites::default())
    }

    /// `append_all`, with writes to other trees made durable by the same flush (and flushed
    /// even when no commit lands). An error means storage failed and neither the commits nor
    /// the writes beside them can be trusted to have landed.
    pub fn append_all_with(
        &self,
        commits: Vec<Commit>,
        beside: BesideWrites,
    ) -> Result<Vec<AppendOutcome>, LogError> {
        if commits.len() > COMMITS_PER_APPEND_MAX {
            return Err(LogError::Limit("an append exceeds COMMITS_PER_APPEND_MAX"));
        }
        let mut heads = self.lock_heads();
        let mut next_position = heads.next_position;
        let mut pending_versions: HashMap<StreamId, u64> = HashMap::new();
        let mut records = Vec::new();
        let mut index_entries = IndexEntries::default();
        let mut outcomes = Vec::with_capacity(commits.len());

        for commit in commits {
            match self.stage(
                &mut heads,
                &mut pending_versions,
                next_position,
                commit,
                &mut records,
                &mut index_entries,
            ) {
                Ok(envelopes) => {
                    next_position += envelopes.len() as u64;
                    outcomes.push(Ok(envelopes));
                }
                Err(error) => outcomes.push(Err(error)),
            }
        }

        if next_position == heads.next_position && beside.is_empty() {
            return Ok(outcomes);
        }
        self.write_durably(
            &mut heads,
            beside,
            records,
            next_position,
            pending_versions,
            index_entries,
        )?;
        Ok(outcomes)
    }

    /// Writes staged records (the positions from the head on, packed into segments) with one
    /// atomic batch and one flush, then moves the heads on to `next_position` and `versions`
    /// and hands the index entries to the indexer.
    pub(super) fn write_durably(
        &self,
        heads: &mut Heads,
        beside: BesideWrites,
        records: Vec<Vec<u8>>,
        next_position: u64,
        versions: HashMap<StreamId, u64>,
        index_entries: IndexEntries,
    ) -> Result<(), LogError> {
        let appends_events = next_position != heads.next_position;
        let written = self
            .apply_beside(beside)
            .and_then(|()| {
                if appends_events {
                    let mut events_batch = sled::Batch::default();
                    segment::pack(heads.next_position, records, &mut events_batch);
                    self.events.apply_batch(events_batch)?;
                }
                Ok(())
            })
            .and_then(|()| Ok(self.db.flush().map(drop)?));
        if let Err(error) = written {
            // What reached the trees is unknown; start again from what they hold.
            let _ = self.recover(heads);
            return Err(error);
        }
        if !appends_events {
            return Ok(());
        }
        heads.next_position = next_position;
        heads.stream_versions.extend(versions);
        let mut behind = false;
        if !index_entries.requests.is_empty() {
            // Held until the indexer has written them, so lookups never miss them.
            let mut recent = lock(&self.recent_requests);
            recent.extend(index_entries.requests.iter().copied());
            behind = recent.len() > RECENT_REQUESTS_MAX;
        }
        self.indexer
            .send(IndexJob::Entries(index_entries, next_position - 1))?;
        if behind {
            // The indexer trails by too much: let it catch up before taking more.
            self.indexer.sync()?;
        }
        Ok(())
    }

    /// Checks one commit and adds its records (which take the positions from `first_position`
    /// on) to `staged`; leaves all untouched on refusal.
    pub(super) fn stage(
        &self,
        heads: &mut Heads,
        pending_versions: &mut HashMap<StreamId, u64>,
        first_position: u64,
        commit: Commit,
        staged: &mut Vec<Vec<u8>>,
        index_entries: &mut IndexEntries,
    ) -> Result<Vec<Envelope>, LogError> {
        let placed = contract::place(commit, first_position, |stream| {
            match pending_versions.get(&stream) {
                Some(&version) => Ok(version),
                None => self.cached_stream_version(heads, stream),
            }
        })?;
        staged.extend(placed.records);
        for envelope in &placed.envelopes {
            index_entries.add(envelope);
        }
        pending_versions.extend(placed.versions);
        Ok(placed.envelopes)
    }
}
