//! The derived indexes (stream runs and request ids) and the thread that writes them just
//! after each append, with the position they cover (the watermark) in the same batch.

use super::*;
use std::{sync::mpsc, thread::JoinHandle};

/// The index watermark's key in `streams`: the last position whose stream runs and request id
/// are indexed. It sorts before every stream key (`a…`, `p…`), so stream scans never meet it.
/// (`v2`: since the index holds request ids too; an index without it is rebuilt.)
pub(super) const INDEXED_THROUGH_KEY: &[u8] = b"#indexed_through/v2";

/// What the indexer writes for a stretch of the log: stream runs and request ids.
#[derive(Default)]
pub(super) struct IndexEntries {
    pub(super) runs: Runs,
    pub(super) requests: Vec<(RequestKey, u64)>,
}

impl IndexEntries {
    pub(super) fn add(&mut self, envelope: &Envelope) {
        self.runs
            .push(envelope.stream, envelope.stream_version, envelope.position);
        if let Event::UsageRecorded {
            project_id,
            request_id,
            ..
        } = &envelope.event
        {
            self.requests
                .push((request_key(*project_id, *request_id), envelope.position));
        }
    }

    /// Adds entries that come after these in the log.
    pub(super) fn extend(&mut self, later: IndexEntries) {
        self.runs.extend(later.runs);
        self.requests.extend(later.requests);
    }

    /// Writes the request ids, then the runs with the watermark `through` in one batch, so
    /// that the watermark never covers an entry not written. Returns the request keys written.
    pub(super) fn write(
        self,
        streams: &sled::Tree,
        requests: &sled::Tree,
        through: u64,
    ) -> sled::Result<Vec<RequestKey>> {
        for (key, position) in &self.requests {
            requests.insert(&key[..], &position.to_be_bytes()[..])?;
        }
        let mut streams_batch = sled::Batch::default();
        self.runs.write_to(&mut streams_batch);
        streams_batch.insert(INDEXED_THROUGH_KEY, &through.to_be_bytes()[..]);
        streams.apply_batch(streams_batch)?;
        Ok(self.requests.into_iter().map(|(key, _)| key).collect())
    }
}

/// Stream index entries waiting to be written: runs of consecutive versions of a stream with
/// the positions they sit at, one `streams` entry per run rather than one per event.
#[derive(Default)]
pub(super) struct Runs {
    open: HashMap<StreamId, Run>,
    closed: Vec<(StreamId, Run)>,
}

pub(super) struct Run {
    first_version: u64,
    positions: Vec<u64>,
}

impl Runs {
    pub(super) fn push(&mut self, stream: StreamId, version: u64, position: u64) {
        match self.open.get_mut(&stream) {
            Some(run)
                if run.first_version + run.positions.len() as u64 == version
                    && run.positions.len() < crate::limits::RUN_POSITIONS_MAX =>
            {
                run.positions.push(position);
            }
            _ => {
                let run = Run {
                    first_version: version,
                    positions: vec![position],
                };
                if let Some(previous) = self.open.insert(stream, run) {
                    self.closed.push((stream, previous));
                }
            }
        }
    }

    /// Adds runs that come after these in the log, joining each stream's continuation.
    pub(super) fn extend(&mut self, later: Runs) {
        for (stream, run) in later.closed.into_iter().chain(later.open) {
            for (offset, position) in run.positions.into_iter().enumerate() {
                self.push(stream, run.first_version + offset as u64, position);
            }
        }
    }

    pub(super) fn write_to(self, batch: &mut sled::Batch) {
        for (stream, run) in self.closed.into_iter().chain(self.open) {
            let value: Vec<u8> = run
                .positions
                .iter()
                .flat_map(|position| position.to_be_bytes())
                .collect();
            batch.insert(&stream_key(stream, run.first_version)[..], value);
        }
    }
}

/// How many positions a `streams` value holds: a whole, non-zero number of eight-byte ones.
pub(super) fn run_len(stream: StreamId, value: &[u8]) -> Result<u64, LogError> {
    if value.is_empty() || !value.len().is_multiple_of(8) {
        return Err(LogError::Corrupt {
            position: 0,
            reason: format!("a streams index value of {stream} is malformed"),
        });
    }
    Ok((value.len() / 8) as u64)
}

/// The positions a `streams` value holds, in version order.
pub(super) fn run_positions(stream: StreamId, value: &[u8]) -> Result<Vec<u64>, LogError> {
    run_len(stream, value)?;
    Ok(value.chunks_exact(8).filter_map(be_u64).collect())
}

pub(super) enum IndexJob {
    /// Index entries of one append, and the last position they cover.
    Entries(IndexEntries, u64),
    /// Answer once every job sent before is applied.
    Sync(mpsc::Sender<Result<(), String>>),
    /// Stop until the sender is dropped: how a test makes the indexer fall behind.
    #[cfg(test)]
    Hold(mpsc::Receiver<()>),
}

/// How long the indexer gathers appends before writing them, unless a reader waits: one
/// index write per few flushes rather than one per flush when appends are small.
pub(super) const INDEX_DELAY: std::time::Duration = std::time::Duration::from_millis(2);

/// The thread that writes the stream runs and request ids of each append, just after it.
pub(super) struct Indexer {
    jobs: Mutex<Option<mpsc::Sender<IndexJob>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Indexer {
    pub(super) fn start(streams: sled::Tree, requests: sled::Tree, recent: RecentRequests) -> Self {
        let (jobs, receiver) = mpsc::channel::<IndexJob>();
        let thread = std::thread::Builder::new()
            .name("steward-index".into())
            .spawn(move || {
                let mut failure: Option<String> = None;
                while let Ok(first) = receiver.recv() {
                    // Coalesce the appends of the next moment into one batch, unless a
                    // reader is waiting.
                    let deadline = std::time::Instant::now() + INDEX_DELAY;
                    let mut entries = IndexEntries::default();
                    let mut through = None;
                    let mut syncs = Vec::new();
                    let mut next = Some(first);
                    while let Some(job) = next {
                        match job {
                            IndexJob::Entries(more, last) => {
                                entries.extend(more);
                                through = Some(last);
                            }
                            IndexJob::Sync(reply) => syncs.push(reply),
                            #[cfg(test)]
                            IndexJob::Hold(release) => {
                                let _ = release.recv();
                            }
                        }
                        next = if syncs.is_empty() {
                            receiver
                                .recv_timeout(
                                    deadline.saturating_duration_since(std::time::Instant::now()),
                                )
                                .ok()
                        } else {
                            receiver.try_recv().ok()
                        };
                    }
                    if let (None, Some(through)) = (&failure, through) {
                        match entries.write(&streams, &requests, through) {
                            Ok(written) => {
                                let mut recent = lock(&recent);
                                for key in written {
                                    recent.remove(&key);
                                }
                            }
                            Err(error) => failure = Some(error.to_string()),
                        }
                    }
                    for reply in syncs {
                        let _ = reply.send(failure.clone().map_or(Ok(()), Err));
                    }
                }
            })
            .expect("the index thread starts");
        Self {
            jobs: Mutex::new(Some(jobs)),
            thread: Mutex::new(Some(thread)),
        }
    }

    pub(super) fn send(&self, job: IndexJob) -> Result<(), LogError> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(|| LogError::Index("the index thread has stopped".into()))
    }

    /// Stops taking jobs and waits for the thread to finish the ones it was sent.
    pub(super) fn stop(&self) {
        drop(lock(&self.jobs).take());
        let thread = lock(&self.thread).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// Waits until every entry sent so far is in the index.
    pub(super) fn sync(&self) -> Result<(), LogError> {
        let (reply, answer) = mpsc::channel();
        self.send(IndexJob::Sync(reply))?;
        answer
            .recv()
            .map_err(|_| LogError::Index("the index thread has stopped".into()))?
            .map_err(LogError::Index)
    }
}
