//! The event log on sled: append-only, gap-free positions, versioned streams, group commit.
//!
//! Three trees; the first two as DESIGN.md lays out:
//! - `events`: big-endian position → record (see `codec`). The source of truth. Each append
//!   writes all its records with one atomic `apply_batch`, so a crash keeps all or none.
//! - `streams`: stream prefix + big-endian version → the big-endian positions of that version
//!   and the ones after it in a run (a stream's events in one append take consecutive
//!   versions, so one entry covers them all; a single position is a run of one). An index
//!   derived from `events`, kept off the durable path: an indexer thread writes it just after
//!   each append, with the position it covers (its watermark) in the same atomic batch.
//!   Reading a stream first waits for the indexer; opening the log re-indexes any tail that a
//!   crash left unindexed. An index without a watermark (the earlier layout kept one entry
//!   per event and the watermark in a `meta` tree) is cleared and rebuilt once.
//! - `requests`: project id + request id → the big-endian position of its `UsageRecorded`.
//!   Derived like `streams`, by the same indexer, under the same watermark (written before
//!   it), so that neither the write model nor the read models keep every request id in
//!   memory. Until the indexer has written them, the request ids of recent appends are held
//!   in memory, so a lookup never misses an appended request.
//!
//! Idempotency answers, sessions and the outbox keep trees of their own beside these, and
//! checkpoints are a file; see the `steward` crate. Their writes reach the disk through the
//! same group commit as the events ([`BesideWrites`]): the log's append is the only caller of
//! `flush` while the service runs. (Concurrent `Tree::flush_async` calls, one per write, wedged
//! sled 0.34 for good: its I/O threads held its read lock waiting for stability while a writer
//! queued for the write lock; spacejam/sled #1308, #1412.)
//!
//! Every append ends with one `flush`, so an append that returned is durable.

use crate::{
    catalog::Event,
    codec,
    envelope::{Actor, Envelope, StreamId},
    error::LogError,
    ids::{EventId, ProjectId, RequestId},
    time::Timestamp,
};
use std::{
    collections::HashMap,
    path::Path,
    sync::{mpsc, Arc, Mutex, MutexGuard},
    thread::JoinHandle,
};
use uuid::Uuid;

/// The most events one commit may hold.
pub const MAX_EVENTS_PER_COMMIT: usize = 4096;
/// The most commits one append may hold.
pub const MAX_COMMITS_PER_APPEND: usize = 4096;

/// The index watermark's key in `streams`: the last position whose stream runs and request id
/// are indexed. It sorts before every stream key (`a…`, `p…`), so stream scans never meet it.
/// (`v2`: since the index holds request ids too; an index without it is rebuilt.)
const INDEXED_THROUGH_KEY: &[u8] = b"#indexed_through/v2";

/// How many events a re-index on open gathers before writing them.
const REINDEX_CHUNK: u64 = 65_536;

/// How long opening waits for a busy directory lock.
pub const OPEN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What a writer believes a stream's version to be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream holds exactly this many events (`Exactly(0)`: it does not exist yet).
    Exactly(u64),
}

/// An event about to be appended; the log gives it its position and stream version.
#[derive(Clone, Debug)]
pub struct ProposedEvent {
    pub event: Event,
    pub actor: Actor,
    pub correlation_id: Uuid,
    pub event_id: EventId,
    pub recorded_at: Timestamp,
}

/// The events of one command, appended all or none, under optional version checks.
#[derive(Clone, Debug, Default)]
pub struct Commit {
    pub expected_versions: Vec<(StreamId, ExpectedVersion)>,
    pub events: Vec<ProposedEvent>,
}

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

    fn apply(self) -> sled::Result<()> {
        for (tree, batch) in self.batches {
            tree.apply_batch(batch)?;
        }
        Ok(())
    }
}

/// One commit's result within an append: its stored envelopes, or why it alone was refused
/// (`Conflict`, `Limit`). Storage failures fail the whole append instead.
pub type AppendOutcome = Result<Vec<Envelope>, LogError>;

/// What `EventLog::verify` found in a sound log.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VerifyReport {
    pub events: u64,
    pub streams: u64,
}

struct Heads {
    /// The position the next event will take.
    next_position: u64,
    /// Known stream versions; a stream missing here is looked up in the index.
    stream_versions: HashMap<StreamId, u64>,
}

/// The append-only event log.
pub struct EventLog {
    db: sled::Db,
    events: sled::Tree,
    streams: sled::Tree,
    requests: sled::Tree,
    recent_requests: RecentRequests,
    heads: Mutex<Heads>,
    indexer: Indexer,
}

type StreamKey = [u8; StreamId::PREFIX_LEN + 8];

/// Project id + request id.
type RequestKey = [u8; 32];

fn request_key(project_id: ProjectId, request_id: RequestId) -> RequestKey {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(project_id.as_bytes());
    key[16..].copy_from_slice(request_id.as_bytes());
    key
}

/// Request ids appended but not yet in the `requests` tree, shared with the indexer.
type RecentRequests = Arc<Mutex<HashMap<RequestKey, u64>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the indexer writes for a stretch of the log: stream runs and request ids.
#[derive(Default)]
struct IndexEntries {
    runs: Runs,
    requests: Vec<(RequestKey, u64)>,
}

impl IndexEntries {
    fn add(&mut self, envelope: &Envelope) {
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
    fn extend(&mut self, later: IndexEntries) {
        self.runs.extend(later.runs);
        self.requests.extend(later.requests);
    }

    /// Writes the request ids, then the runs with the watermark `through` in one batch, so
    /// that the watermark never covers an entry not written. Returns the request keys written.
    fn write(
        self,
        streams: &sled::Tree,
        requests: &sled::Tree,
        through: u64,
    ) -> sled::Result<Vec<RequestKey>> {
        let mut requests_batch = sled::Batch::default();
        for (key, position) in &self.requests {
            requests_batch.insert(&key[..], &position.to_be_bytes()[..]);
        }
        requests.apply_batch(requests_batch)?;
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
struct Runs {
    open: HashMap<StreamId, Run>,
    closed: Vec<(StreamId, Run)>,
}

struct Run {
    first_version: u64,
    positions: Vec<u64>,
}

/// The most positions one index entry holds (32 KiB), so that re-indexing a whole log does
/// not make one entry of a busy stream's every event.
const MAX_RUN: usize = 4096;

impl Runs {
    fn push(&mut self, stream: StreamId, version: u64, position: u64) {
        match self.open.get_mut(&stream) {
            Some(run)
                if run.first_version + run.positions.len() as u64 == version
                    && run.positions.len() < MAX_RUN =>
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
    fn extend(&mut self, later: Runs) {
        for (stream, run) in later.closed.into_iter().chain(later.open) {
            for (offset, position) in run.positions.into_iter().enumerate() {
                self.push(stream, run.first_version + offset as u64, position);
            }
        }
    }

    fn write_to(self, batch: &mut sled::Batch) {
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
fn run_len(stream: StreamId, value: &[u8]) -> Result<u64, LogError> {
    if value.is_empty() || value.len() % 8 != 0 {
        return Err(LogError::Corrupt {
            position: 0,
            reason: format!("a streams index value of {stream} is malformed"),
        });
    }
    Ok((value.len() / 8) as u64)
}

/// The positions a `streams` value holds, in version order.
fn run_positions(stream: StreamId, value: &[u8]) -> Result<Vec<u64>, LogError> {
    run_len(stream, value)?;
    Ok(value.chunks_exact(8).filter_map(be_u64).collect())
}

enum IndexJob {
    /// Index entries of one append, and the last position they cover.
    Entries(IndexEntries, u64),
    /// Answer once every job sent before is applied.
    Sync(mpsc::Sender<Result<(), String>>),
}

/// How long the indexer gathers appends before writing them, unless a reader waits: one
/// index write per few flushes rather than one per flush when appends are small.
const INDEX_DELAY: std::time::Duration = std::time::Duration::from_millis(2);

/// The thread that writes the stream runs and request ids of each append, just after it.
struct Indexer {
    jobs: Mutex<Option<mpsc::Sender<IndexJob>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Indexer {
    fn start(streams: sled::Tree, requests: sled::Tree, recent: RecentRequests) -> Self {
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

    fn send(&self, job: IndexJob) -> Result<(), LogError> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(|| LogError::Index("the index thread has stopped".into()))
    }

    /// Waits until every entry sent so far is in the index.
    fn sync(&self) -> Result<(), LogError> {
        let (reply, answer) = mpsc::channel();
        self.send(IndexJob::Sync(reply))?;
        answer
            .recv()
            .map_err(|_| LogError::Index("the index thread has stopped".into()))?
            .map_err(LogError::Index)
    }
}

impl Drop for EventLog {
    /// Lets the indexer finish what it was sent, so a clean close leaves a complete index.
    fn drop(&mut self) {
        drop(
            self.indexer
                .jobs
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take(),
        );
        let thread = self
            .indexer
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
        let _ = self.db.flush();
    }
}

fn stream_key(stream: StreamId, version: u64) -> StreamKey {
    let mut key = [0u8; StreamId::PREFIX_LEN + 8];
    key[..StreamId::PREFIX_LEN].copy_from_slice(&stream.storage_prefix());
    key[StreamId::PREFIX_LEN..].copy_from_slice(&version.to_be_bytes());
    key
}

fn be_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

impl EventLog {
    /// Opens (or creates) the log in `path`, re-indexing any tail a crash left unindexed.
    ///
    /// sled locks the directory; a previous holder in this process may still be finishing its
    /// background work for a moment after it was dropped, so a busy lock is retried for up to
    /// `OPEN_LOCK_WAIT`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LogError> {
        let started = std::time::Instant::now();
        loop {
            match sled::Config::new().path(path.as_ref()).open() {
                Ok(db) => return Self::with_db(db),
                Err(sled::Error::Io(error))
                    if error.to_string().contains("could not acquire lock")
                        && started.elapsed() < OPEN_LOCK_WAIT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Opens a log on an already opened sled database (tests use a temporary one).
    pub fn with_db(db: sled::Db) -> Result<Self, LogError> {
        let streams = db.open_tree("streams")?;
        let requests = db.open_tree("requests")?;
        let recent_requests = RecentRequests::default();
        let log = Self {
            events: db.open_tree("events")?,
            indexer: Indexer::start(
                streams.clone(),
                requests.clone(),
                Arc::clone(&recent_requests),
            ),
            streams,
            requests,
            recent_requests,
            db,
            heads: Mutex::new(Heads {
                next_position: 1,
                stream_versions: HashMap::new(),
            }),
        };
        {
            let mut heads = log.lock_heads();
            log.recover(&mut heads)?;
        }
        Ok(log)
    }

    /// The underlying database, for trees of other components (idempotency, checkpoints).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// The position of the last event, 0 when the log is empty.
    pub fn head(&self) -> u64 {
        self.lock_heads().next_position - 1
    }

    /// The number of events in `stream` (its version), 0 when it does not exist.
    pub fn stream_version(&self, stream: StreamId) -> Result<u64, LogError> {
        let mut heads = self.lock_heads();
        self.cached_stream_version(&mut heads, stream)
    }

    fn lock_heads(&self) -> MutexGuard<'_, Heads> {
        // A panic while holding the lock leaves no half-made change behind: heads are only
        // updated after a successful flush, so the poisoned value is still consistent.
        self.heads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Brings the derived index up to the events tree and resets the in-memory heads.
    fn recover(&self, heads: &mut Heads) -> Result<(), LogError> {
        self.indexer.sync()?;
        let last_position = match self.events.last()? {
            Some((key, _)) => be_u64(&key).ok_or_else(|| LogError::Corrupt {
                position: 0,
                reason: "an events key is not eight bytes".into(),
            })?,
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

    fn cached_stream_version(&self, heads: &mut Heads, stream: StreamId) -> Result<u64, LogError> {
        if let Some(&version) = heads.stream_versions.get(&stream) {
            return Ok(version);
        }
        self.indexer.sync()?;
        let version = match self
            .streams
            .scan_prefix(stream.storage_prefix())
            .next_back()
        {
            Some(entry) => {
                let (key, value) = entry?;
                let first =
                    be_u64(&key[StreamId::PREFIX_LEN..]).ok_or_else(|| LogError::Corrupt {
                        position: 0,
                        reason: format!("a streams key of {stream} is malformed"),
                    })?;
                first + run_len(stream, &value)? - 1
            }
            None => 0,
        };
        heads.stream_versions.insert(stream, version);
        Ok(version)
    }

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
        if commits.len() > MAX_COMMITS_PER_APPEND {
            return Err(LogError::Limit("an append exceeds MAX_COMMITS_PER_APPEND"));
        }
        let mut heads = self.lock_heads();
        let mut next_position = heads.next_position;
        let mut pending_versions: HashMap<StreamId, u64> = HashMap::new();
        let mut events_batch = sled::Batch::default();
        let mut index_entries = IndexEntries::default();
        let mut outcomes = Vec::with_capacity(commits.len());

        for commit in commits {
            match self.stage(
                &mut heads,
                &mut pending_versions,
                next_position,
                commit,
                &mut events_batch,
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
            events_batch,
            next_position,
            pending_versions,
            index_entries,
        )?;
        Ok(outcomes)
    }

    /// Writes staged records with one atomic batch and one flush, then moves the heads on to
    /// `next_position` and `versions` and hands the index entries to the indexer.
    fn write_durably(
        &self,
        heads: &mut Heads,
        beside: BesideWrites,
        events_batch: sled::Batch,
        next_position: u64,
        versions: HashMap<StreamId, u64>,
        index_entries: IndexEntries,
    ) -> Result<(), LogError> {
        let appends_events = next_position != heads.next_position;
        let written = beside
            .apply()
            .and_then(|()| {
                if appends_events {
                    self.events.apply_batch(events_batch)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| self.db.flush().map(drop));
        if let Err(error) = written {
            // What reached the trees is unknown; start again from what they hold.
            let _ = self.recover(heads);
            return Err(error.into());
        }
        if !appends_events {
            return Ok(());
        }
        heads.next_position = next_position;
        heads.stream_versions.extend(versions);
        if !index_entries.requests.is_empty() {
            // Held until the indexer has written them, so lookups never miss them.
            lock(&self.recent_requests).extend(index_entries.requests.iter().copied());
        }
        self.indexer
            .send(IndexJob::Entries(index_entries, next_position - 1))
    }

    /// Appends envelopes exported from another log, keeping their positions, stream versions,
    /// ids, times and actors: the way back from a portable export. Each must continue the log
    /// exactly (the next position, its stream's next version, the stream its event belongs
    /// to); the first that does not is refused with its position and nothing of the call lands.
    pub fn import(&self, envelopes: &[Envelope]) -> Result<(), LogError> {
        if envelopes.len() > MAX_EVENTS_PER_COMMIT {
            return Err(LogError::Limit("an import exceeds MAX_EVENTS_PER_COMMIT"));
        }
        let mut heads = self.lock_heads();
        let mut next_position = heads.next_position;
        let mut versions: HashMap<StreamId, u64> = HashMap::new();
        let mut events_batch = sled::Batch::default();
        let mut index_entries = IndexEntries::default();
        for envelope in envelopes {
            let refuse = |reason: String| LogError::Corrupt {
                position: envelope.position,
                reason,
            };
            if envelope.position != next_position {
                return Err(refuse(format!("expected position {next_position}")));
            }
            if envelope.event.stream() != envelope.stream {
                return Err(refuse(format!(
                    "a {} event does not belong to {}",
                    envelope.event.kind(),
                    envelope.stream
                )));
            }
            let current = match versions.get(&envelope.stream) {
                Some(&version) => version,
                None => self.cached_stream_version(&mut heads, envelope.stream)?,
            };
            if envelope.stream_version != current + 1 {
                return Err(refuse(format!(
                    "{} version {} does not follow version {current}",
                    envelope.stream, envelope.stream_version
                )));
            }
            versions.insert(envelope.stream, envelope.stream_version);
            events_batch.insert(
                &envelope.position.to_be_bytes()[..],
                codec::encode(envelope)?,
            );
            index_entries.add(envelope);
            next_position += 1;
        }
        if envelopes.is_empty() {
            return Ok(());
        }
        self.write_durably(
            &mut heads,
            BesideWrites::default(),
            events_batch,
            next_position,
            versions,
            index_entries,
        )
    }

    /// Checks one commit and adds its records to the batches; leaves all untouched on refusal.
    fn stage(
        &self,
        heads: &mut Heads,
        pending_versions: &mut HashMap<StreamId, u64>,
        first_position: u64,
        commit: Commit,
        events_batch: &mut sled::Batch,
        index_entries: &mut IndexEntries,
    ) -> Result<Vec<Envelope>, LogError> {
        if commit.events.len() > MAX_EVENTS_PER_COMMIT {
            return Err(LogError::Limit("a commit exceeds MAX_EVENTS_PER_COMMIT"));
        }
        // A commit touches one or two streams: a small list beats a map here.
        let mut versions: Vec<(StreamId, u64)> = Vec::with_capacity(2);
        let mut current_version =
            |stream: StreamId, versions: &mut Vec<(StreamId, u64)>| -> Result<u64, LogError> {
                if let Some(&(_, version)) = versions.iter().find(|(known, _)| *known == stream) {
                    return Ok(version);
                }
                let version = match pending_versions.get(&stream) {
                    Some(&version) => version,
                    None => self.cached_stream_version(heads, stream)?,
                };
                versions.push((stream, version));
                Ok(version)
            };

        for &(stream, expected) in &commit.expected_versions {
            let actual = current_version(stream, &mut versions)?;
            if let ExpectedVersion::Exactly(expected) = expected {
                if expected != actual {
                    return Err(LogError::Conflict {
                        stream,
                        expected,
                        actual,
                    });
                }
            }
        }

        let mut envelopes = Vec::with_capacity(commit.events.len());
        let mut records = Vec::with_capacity(commit.events.len());
        for (offset, proposed) in commit.events.into_iter().enumerate() {
            let stream = proposed.event.stream();
            let stream_version = current_version(stream, &mut versions)? + 1;
            for (known, version) in versions.iter_mut() {
                if *known == stream {
                    *version = stream_version;
                }
            }
            let envelope = Envelope {
                position: first_position + offset as u64,
                stream,
                stream_version,
                event_id: proposed.event_id,
                recorded_at: proposed.recorded_at,
                actor: proposed.actor,
                correlation_id: proposed.correlation_id,
                schema_version: codec::SCHEMA_VERSION,
                event: proposed.event,
            };
            records.push(codec::encode(&envelope)?);
            envelopes.push(envelope);
        }

        for (envelope, record) in envelopes.iter().zip(records) {
            events_batch.insert(&envelope.position.to_be_bytes()[..], record);
            index_entries.add(envelope);
        }
        pending_versions.extend(versions);
        Ok(envelopes)
    }

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
        match self.events.get(position.to_be_bytes())? {
            Some(record) => codec::decode(position, &record).map(Some),
            None => Ok(None),
        }
    }

    /// Every event from `position` (inclusive) on, in order. A record that fails its checks, or
    /// a missing position, ends the iteration with `Corrupt` naming the position.
    pub fn read_from(&self, position: u64) -> impl Iterator<Item = Result<Envelope, LogError>> {
        let start = position.max(1);
        let mut expected_position = start;
        let mut failed = false;
        self.events
            .range(start.to_be_bytes()..)
            .map_while(move |entry| {
                if failed {
                    return None;
                }
                let decoded = entry.map_err(LogError::from).and_then(|(key, record)| {
                    let position = be_u64(&key).ok_or_else(|| LogError::Corrupt {
                        position: expected_position,
                        reason: "an events key is not eight bytes".into(),
                    })?;
                    if position != expected_position {
                        return Err(LogError::Corrupt {
                            position: expected_position,
                            reason: format!("missing; the next record is at {position}"),
                        });
                    }
                    codec::decode(position, &record)
                });
                failed = decoded.is_err();
                expected_position += 1;
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
            let record =
                self.events
                    .get(position.to_be_bytes())?
                    .ok_or_else(|| LogError::Corrupt {
                        position,
                        reason: format!("indexed as {stream} version {version} but missing"),
                    })?;
            let envelope = codec::decode(position, &record)?;
            if envelope.stream != stream || envelope.stream_version != version {
                return Err(LogError::Corrupt {
                    position,
                    reason: format!(
                        "indexed as {stream} version {version}, holds {} version {}",
                        envelope.stream, envelope.stream_version
                    ),
                });
            }
            Ok(envelope)
        }))
    }

    /// The index entry of `stream` whose run starts at `version` or, failing that, the last
    /// one starting before it (which holds `version` if the index has it): key and value.
    fn run_at(
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
    fn indexed_position(&self, stream: StreamId, version: u64) -> Result<Option<u64>, LogError> {
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

    /// Reads the whole log and checks it: positions gap-free from 1, every record decodes,
    /// stream versions contiguous from 1, and the stream and request indexes agree with the
    /// records.
    pub fn verify(&self) -> Result<VerifyReport, LogError> {
        self.indexer.sync()?;
        let mut versions: HashMap<StreamId, u64> = HashMap::new();
        let mut events = 0u64;
        for record in self.read_from(1) {
            let envelope = record?;
            let version = versions.entry(envelope.stream).or_insert(0);
            if envelope.stream_version != *version + 1 {
                return Err(LogError::Corrupt {
                    position: envelope.position,
                    reason: format!(
                        "{} version {} follows version {}",
                        envelope.stream, envelope.stream_version, version
                    ),
                });
            }
            *version = envelope.stream_version;
            let indexed = self.indexed_position(envelope.stream, envelope.stream_version)?;
            if indexed != Some(envelope.position) {
                return Err(LogError::Corrupt {
                    position: envelope.position,
                    reason: "the stream index does not point at this record".into(),
                });
            }
            if let Event::UsageRecorded {
                project_id,
                request_id,
                ..
            } = &envelope.event
            {
                if self.request_position(*project_id, *request_id)? != Some(envelope.position) {
                    return Err(LogError::Corrupt {
                        position: envelope.position,
                        reason: format!("the request index does not point at {request_id}"),
                    });
                }
            }
            events += 1;
        }
        if events != self.head() {
            return Err(LogError::Corrupt {
                position: events + 1,
                reason: format!(
                    "the log's head is {}, but {events} records read",
                    self.head()
                ),
            });
        }
        Ok(VerifyReport {
            events,
            streams: versions.len() as u64,
        })
    }
}
