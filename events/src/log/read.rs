//! Reading: one position, everything from a position, one stream, a request id.

use super::*;

impl SledLog {
    /// The position of the `UsageRecorded` of `request_id` in `project_id`, if it was recorded.
    /// Sees every append that has returned, indexed yet or not.
    pub fn request_position(
        &self,
        project_id: ProjectId,
        request_id: RequestId,
    ) -> Result<Option<u64>, LogError> {
        let key = request_key(project_id, request_id);
        if let Some(&position) = lock(&self.recent_requests).get(&key) {
            return Ok(Some(position));
        }
        match self.requests.get(key)? {
            Some(value) => be_u64(&value).map(Some).ok_or_else(|| LogError::Corrupt {
                position: 0,
                reason: format!("the request index entry of {request_id} is malformed"),
            }),
            None => Ok(None),
        }
    }

    /// The event at `position`, if the log holds it: a point read, cheaper than `read_from`.
    pub fn read_at(&self, position: u64) -> Result<Option<Envelope>, LogError> {
        self.stored_at(position)?
            .and_then(|stored| stored.decode(position))
            .transpose()
    }

    /// The value holding `position`, if any: the last one stored at or before it (which may
    /// end before it).
    pub(super) fn stored_at(&self, position: u64) -> Result<Option<segment::Stored>, LogError> {
        match self.events.range(..=position.to_be_bytes()).next_back() {
            Some(entry) => {
                let (key, value) = entry?;
                segment::Stored::parse(position, &key, value).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Every event from `position` (inclusive) on, in order. A record that fails its checks, or
    /// a missing position, ends the iteration with `Corrupt` naming the position.
    pub fn read_from(&self, position: u64) -> impl Iterator<Item = Result<Envelope, LogError>> {
        let start = position.max(1);
        // Begin at the value holding `start`, when a segment does.
        let seek = match self.events.range(..=start.to_be_bytes()).next_back() {
            Some(Ok((key, _))) => be_u64(&key).unwrap_or(start),
            _ => start,
        };
        let mut expected_position = start;
        let mut failed = false;
        self.events
            .range(seek.to_be_bytes()..)
            .flat_map(move |entry| {
                let stored = entry.map_err(LogError::from).and_then(|(key, value)| {
                    segment::Stored::parse(expected_position, &key, value)
                });
                let records: Vec<Result<Envelope, LogError>> = match stored {
                    Err(error) => vec![Err(error)],
                    Ok(stored) if stored.last() < expected_position => Vec::new(),
                    Ok(stored) if stored.first() > expected_position => {
                        vec![Err(LogError::Corrupt {
                            position: expected_position,
                            reason: format!("missing; the next record is at {}", stored.first()),
                        })]
                    }
                    Ok(stored) => (expected_position..=stored.last())
                        .map(|position| stored.decode(position).expect("within the value"))
                        .collect(),
                };
                if let Some(Ok(last)) = records.last() {
                    expected_position = last.position + 1;
                }
                records
            })
            .map_while(move |decoded| {
                if failed {
                    return None;
                }
                failed = decoded.is_err();
                Some(decoded)
            })
    }

    /// The events of one stream from `version` (inclusive) on, in order.
    pub fn read_stream(
        &self,
        stream: StreamId,
        version: u64,
    ) -> impl Iterator<Item = Result<Envelope, LogError>> + '_ {
        let from = version.max(1);
        // The index trails the appends by a moment: wait for it, and report if it failed.
        let start = self
            .indexer
            .sync()
            .and_then(|()| Ok(self.run_at(stream, from)?.map(|(key, _)| key)));
        let (failed, start) = match start {
            Ok(start) => (
                None,
                Some(start.unwrap_or_else(|| stream_key(stream, from)[..].into())),
            ),
            Err(error) => (Some(Err(error)), None),
        };
        let end = sled::IVec::from(&stream_key(stream, u64::MAX)[..]);
        let indexed = start
            .into_iter()
            .flat_map(move |start| self.streams.range(start..=end.clone()))
            .flat_map(move |entry| {
                let run = entry.map_err(LogError::from).and_then(|(key, value)| {
                    let first = be_u64(&key[StreamId::PREFIX_LEN..]).unwrap_or(0);
                    Ok((first, run_positions(stream, &value)?))
                });
                match run {
                    Ok((first, positions)) => positions
                        .into_iter()
                        .zip(first..)
                        .filter(|&(_, version)| version >= from)
                        .map(Ok)
                        .collect::<Vec<_>>(),
                    Err(error) => vec![Err(error)],
                }
            });
        failed.into_iter().chain(indexed.map(move |entry| {
            let (position, version) = entry?;
            let envelope = self
                .stored_at(position)?
                .and_then(|stored| stored.decode(position))
                .ok_or_else(|| LogError::Corrupt {
                    position,
                    reason: format!("indexed as {stream} version {version} but missing"),
                })??;
            contract::holds(envelope, "indexed", stream, version)
        }))
    }

    /// The index entry of `stream` whose run starts at `version` or, failing that, the last
    /// one starting before it (which holds `version` if the index has it): key and value.
    pub(super) fn run_at(
        &self,
        stream: StreamId,
        version: u64,
    ) -> Result<Option<(sled::IVec, sled::IVec)>, LogError> {
        Ok(self
            .streams
            .range(stream_key(stream, 0)..=stream_key(stream, version))
            .next_back()
            .transpose()?)
    }

    /// Where the index says `stream`'s `version` sits.
    pub(super) fn indexed_position(
        &self,
        stream: StreamId,
        version: u64,
    ) -> Result<Option<u64>, LogError> {
        let Some((key, value)) = self.run_at(stream, version)? else {
            return Ok(None);
        };
        let first = be_u64(&key[StreamId::PREFIX_LEN..]).unwrap_or(u64::MAX);
        let offset = version
            .checked_sub(first)
            .and_then(|offset| usize::try_from(offset).ok()?.checked_mul(8));
        Ok(offset
            .and_then(|offset| value.get(offset..offset + 8))
            .and_then(be_u64))
    }
}
