//! The event log on sled: append-only, gap-free positions, versioned streams, group commit.
//!
//! Three trees; the first two as DESIGN.md lays out:
//! - `events`: big-endian position → record (see `codec`), or → a segment of the consecutive
//!   records of one append from that position on (see `segment`). The source of truth. Each
//!   append writes all its records with one atomic `apply_batch`, so a crash keeps all or
//!   none.
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
//!   in memory, so a lookup never misses an appended request; an append that leaves more
//!   than `RECENT_REQUESTS_MAX` of them waiting returns only once the indexer has caught up.
//!
//! Idempotency answers, sessions and the outbox keep trees of their own beside these, and
//! checkpoints are a file; see the `steward` crate. Their writes reach the disk through the
//! same group commit as the events ([`BesideWrites`]): the log's append is the only caller of
//! `flush` while the service runs. (Concurrent `Tree::flush_async` calls, one per write, wedged
//! sled 0.34 for good: its I/O threads held its read lock waiting for stability while a writer
//! queued for the write lock; spacejam/sled #1308, #1412.)
//!
//! Every append ends with one `flush`, so an append that returned is durable.
//!
//! One file per concern: `append` (staging commits, the durable write), `beside` (writes to
//! the trees beside the log), `trees` (them on sled), `index` (the indexer thread and its entries), `recovery`
//! (re-indexing on open), `import`, `read` (positions, streams, request ids), `segment` (the
//! values of `events`) and `verify`.

mod append;
mod beside;
mod contract;
mod import;
mod index;
pub mod postgres;
mod read;
mod recovery;
mod segment;
#[cfg(test)]
mod tests;
mod trees;
mod verify;

pub use beside::{
    BesideStore, BesideWrites, Entry, KeyRange, LogStore, TreeName, SCAN_ENTRIES_MAX,
};
pub use contract::{Envelopes, EventLog};
pub use postgres::PgLog;
pub use segment::{Stored, SEGMENT_FORMAT_BYTE};

use crate::{
    catalog::Event,
    codec,
    envelope::{Actor, Envelope, StreamId},
    error::LogError,
    ids::{EventId, ProjectId, RequestId},
    limits::{COMMITS_PER_APPEND_MAX, EVENTS_PER_COMMIT_MAX, RECENT_REQUESTS_MAX},
    time::Timestamp,
};
use index::{run_len, run_positions, IndexEntries, IndexJob, Indexer, INDEXED_THROUGH_KEY};
use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::{Arc, Mutex, MutexGuard},
};
use uuid::Uuid;

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

impl ProposedEvent {
    /// The envelope this event takes at `position`, as version `stream_version` of its stream.
    fn placed(self, position: u64, stream_version: u64) -> Envelope {
        Envelope {
            position,
            stream: self.event.stream(),
            stream_version,
            event_id: self.event_id,
            recorded_at: self.recorded_at,
            actor: self.actor,
            correlation_id: self.correlation_id,
            schema_version: codec::SCHEMA_VERSION,
            event: self.event,
        }
    }
}

/// The events of one command, appended all or none, under optional version checks.
#[derive(Clone, Debug, Default)]
pub struct Commit {
    pub expected_versions: Vec<(StreamId, ExpectedVersion)>,
    pub events: Vec<ProposedEvent>,
}

/// One commit's result within an append: its stored envelopes, or why it alone was refused
/// (`Conflict`, `Limit`). Storage failures fail the whole append instead.
pub type AppendOutcome = Result<Vec<Envelope>, LogError>;

/// What `SledLog::verify` found in a sound log.
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
pub struct SledLog {
    db: sled::Db,
    events: sled::Tree,
    streams: sled::Tree,
    requests: sled::Tree,
    recent_requests: RecentRequests,
    heads: Mutex<Heads>,
    indexer: Indexer,
    /// The trees beside the log opened so far, by name (`trees`).
    beside: std::sync::RwLock<HashMap<TreeName, sled::Tree>>,
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

impl Drop for SledLog {
    /// Lets the indexer finish what it was sent, so a clean close leaves a complete index.
    fn drop(&mut self) {
        self.indexer.stop();
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

impl SledLog {
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
            beside: Default::default(),
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

    /// Waits until the derived indexes cover every append that has returned. Reads never need
    /// it (they wait for what they use); a benchmark does, to count the indexing it caused.
    pub fn wait_for_index(&self) -> Result<(), LogError> {
        self.indexer.sync()
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
}
