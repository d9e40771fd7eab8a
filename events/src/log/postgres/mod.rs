//! The event log on PostgreSQL: the same contract as the sled log ([`EventLog`]), for many
//! nodes sharing one database.
//!
//! How it keeps the guarantees a reader needs (never skip an event whose transaction commits
//! late):
//! - **One writer at a time.** A node becomes the writer by taking a session-level advisory
//!   lock (`pg_try_advisory_lock`) on its own unpooled connection, and then bumps `epoch` in
//!   the one-row `steward_log_head`. Every append names that epoch: once another node has been
//!   elected, a stale writer's append matches nothing and is refused (`NotWriter`), with
//!   nothing written.
//! - **Positions handed out by the head row, in the statement that inserts.** An append is
//!   one statement: it moves `steward_log_head.position` from the head the writer knows to the
//!   new one and inserts the records and their request-index rows, all or nothing, in one
//!   transaction and one WAL flush. The head row is locked until commit, so commit order is
//!   position order and a refused or rolled-back append leaves no gap.
//! - **Readers read up to the head row,** in one statement (one snapshot): a snapshot that sees
//!   the head at `h` sees every event up to `h`, and none beyond it is half there.
//! - **Versions from the expected version,** checked by the writer against what it knows, and
//!   `UNIQUE (stream, version)` as the backstop.
//!
//! Each record is the same bytes the sled log stores for one event (`codec`): format byte,
//! schema version, body, checksum; checked on every read.

mod beside;
#[cfg(feature = "cluster")]
pub mod cluster;
mod pool;
mod schema;

pub use pool::READER_CONNECTIONS;

use super::*;
use crate::log::contract::{self, Envelopes, EventLog};
use ::postgres::{fallible_iterator::FallibleIterator, types::ToSql, Client};
use pool::{off_runtime, Connection, Pool};

/// The advisory lock key whose holder is the log's writer ("steward" in ASCII).
const WRITER_LOCK: i64 = i64::from_be_bytes(*b"\0steward");
/// How many rows one read of the log fetches.
pub const READ_PAGE_ROWS: i64 = 1000;

fn database(error: ::postgres::Error) -> LogError {
    LogError::Database(error.to_string())
}

struct Writer {
    url: String,
    client: Connection,
    /// The epoch this node was elected in; `None` when it is not the writer.
    epoch: Option<i64>,
    heads: Heads,
}

impl Writer {
    /// After a failed query: a closed connection took the database session, and the writer's
    /// lock with it, so this node is not the writer any more. It connects again (if it can
    /// now; else on the next failure) to read and to stand for election again.
    fn after_failure(&mut self) {
        if !self.client.is_closed() {
            return;
        }
        self.epoch = None;
        if let Ok(client) = Connection::open(&self.url) {
            self.client = client;
        }
    }
}

/// The channel an append notifies, with the new head, when it commits.
const APPENDED_CHANNEL: &str = "steward_log";

/// The event log in a PostgreSQL database.
pub struct PgLog {
    url: String,
    writer: Mutex<Writer>,
    readers: Pool,
    /// The connection that listens on `APPENDED_CHANNEL`, opened on first wait.
    listener: Mutex<Option<Connection>>,
}

impl PgLog {
    /// Connects to `url`, creates or migrates the schema, and tries to become the writer: a
    /// node that finds another writer opens the log to read only ([`PgLog::is_writer`]).
    pub fn open(url: &str) -> Result<Self, LogError> {
        let log = Self::connect(url)?;
        log.try_elect(None)?;
        Ok(log)
    }

    /// Connects to `url` and creates or migrates the schema, to read only until elected
    /// ([`PgLog::try_elect`]).
    pub fn connect(url: &str) -> Result<Self, LogError> {
        off_runtime(|| {
            let mut client = Connection::open(url)?;
            schema::migrate(&mut client)?;
            let head: i64 = client
                .query_one("SELECT position FROM steward_log_head", &[])
                .map_err(database)?
                .get(0);
            Ok(Self {
                url: url.to_owned(),
                writer: Mutex::new(Writer {
                    url: url.to_owned(),
                    client,
                    epoch: None,
                    heads: Heads {
                        next_position: head as u64 + 1,
                        stream_versions: HashMap::new(),
                    },
                }),
                readers: Pool::connect(url)?,
                listener: Mutex::new(None),
            })
        })
    }

    /// Becomes the writer if no node is: takes the writer's lock, bumps the epoch (fencing
    /// off any writer elected before), and records `writer_url` as where other nodes send
    /// commands. Answers whether this node is the writer now. Once it is, no other node can
    /// append, so the head it then reads is final until it stops.
    pub fn try_elect(&self, writer_url: Option<&str>) -> Result<bool, LogError> {
        let mut guard = lock(&self.writer);
        let writer: &mut Writer = &mut guard;
        if writer.epoch.is_some() {
            return Ok(true);
        }
        off_runtime(|| {
            // A connection closed since its last use (the server restarted) is opened again,
            // and the election asked once more on the new one.
            match Self::elect(writer, writer_url) {
                Err(_) if writer.client.is_closed() => {
                    writer.after_failure();
                    Self::elect(writer, writer_url)
                }
                elected => elected,
            }
        })
    }

    fn elect(writer: &mut Writer, writer_url: Option<&str>) -> Result<bool, LogError> {
        let elected: bool = writer
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK])
            .map_err(database)?
            .get(0);
        if !elected {
            return Ok(false);
        }
        let row = writer
            .client
            .query_one(
                "UPDATE steward_log_head SET epoch = epoch + 1, writer_url = $1
                 RETURNING epoch, position",
                &[&writer_url],
            )
            .map_err(database)?;
        writer.epoch = Some(row.get::<_, i64>(0));
        writer.heads.next_position = row.get::<_, i64>(1) as u64 + 1;
        writer.heads.stream_versions.clear();
        Ok(true)
    }

    /// Where the writer elected last takes commands, as it said when elected.
    pub fn writer_url(&self) -> Result<Option<String>, LogError> {
        self.readers.with(|client| {
            client
                .query_one("SELECT writer_url FROM steward_log_head", &[])
                .map(|row| row.get(0))
        })
    }

    /// Waits until an append commits, or for at most `timeout`. Only a hint that the log may
    /// have moved on: a reader reads from its own position whatever this answers (a
    /// notification can be missed while the listener reconnects).
    pub fn wait_for_append(&self, timeout: std::time::Duration) -> Result<(), LogError> {
        off_runtime(|| {
            let mut listener = lock(&self.listener);
            if listener.is_none() {
                let mut client = Connection::open(&self.url)?;
                client
                    .batch_execute(&format!("LISTEN {APPENDED_CHANNEL}"))
                    .map_err(database)?;
                *listener = Some(client);
            }
            let client = listener.as_mut().expect("a listener was connected");
            let waited = client.notifications().timeout_iter(timeout).next();
            let drained = waited.and_then(|_| {
                let mut pending = client.notifications();
                let mut pending = pending.iter();
                while pending.next()?.is_some() {}
                Ok(())
            });
            if let Err(error) = drained {
                // Connected again on the next wait.
                *listener = None;
                return Err(database(error));
            }
            Ok(())
        })
    }

    /// Whether this node holds the writer's lock, as of its last append.
    pub fn is_writer(&self) -> bool {
        lock(&self.writer).epoch.is_some()
    }

    /// The epoch this node was elected in, if it is the writer.
    pub fn epoch(&self) -> Option<i64> {
        lock(&self.writer).epoch
    }

    fn stream_version_in(client: &mut Client, stream: StreamId) -> Result<u64, LogError> {
        let row = client
            .query_one(schema::STREAM_VERSION, &[&&stream.storage_prefix()[..]])
            .map_err(database)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    /// Checks each commit against the versions known (and those its predecessors leave), and
    /// encodes the ones that pass at the positions from the head on.
    fn stage(
        writer: &mut Writer,
        commits: Vec<Commit>,
    ) -> Result<(Staged, Vec<AppendOutcome>), LogError> {
        let mut staged = Staged::default();
        let mut outcomes = Vec::with_capacity(commits.len());
        let mut versions: HashMap<StreamId, u64> = HashMap::new();
        for commit in commits {
            let first = writer.heads.next_position + staged.records.len() as u64;
            let placed = contract::place(commit, first, |stream| {
                if let Some(&version) = versions.get(&stream) {
                    return Ok(version);
                }
                if let Some(&version) = writer.heads.stream_versions.get(&stream) {
                    return Ok(version);
                }
                let version = Self::stream_version_in(&mut writer.client, stream)?;
                writer.heads.stream_versions.insert(stream, version);
                Ok(version)
            });
            match placed {
                Ok(placed) => {
                    for (envelope, record) in placed.envelopes.iter().zip(placed.records) {
                        staged.add(envelope, record);
                    }
                    versions.extend(placed.versions);
                    outcomes.push(Ok(placed.envelopes));
                }
                // The database failed: nothing of this append can be trusted.
                Err(error @ LogError::Database(_)) => return Err(error),
                Err(refusal) => outcomes.push(Err(refusal)),
            }
        }
        staged.versions = versions;
        Ok((staged, outcomes))
    }

    /// Writes staged records and writes beside the log in one statement: the head row moves
    /// from the head this writer knows, in its epoch, or nothing is written.
    fn write(writer: &mut Writer, staged: Staged) -> Result<(), LogError> {
        let Some(epoch) = writer.epoch else {
            return Err(LogError::NotWriter);
        };
        if staged.records.is_empty()
            && staged.kept_keys.is_empty()
            && staged.removed_keys.is_empty()
        {
            return Ok(());
        }
        let from = writer.heads.next_position as i64 - 1;
        let to = from + staged.records.len() as i64;
        let parameters: [&(dyn ToSql + Sync); 14] = [
            &from,
            &to,
            &epoch,
            &staged.positions,
            &staged.streams,
            &staged.versions_column,
            &staged.records,
            &staged.request_keys,
            &staged.request_positions,
            &staged.kept_trees,
            &staged.kept_keys,
            &staged.kept_values,
            &staged.removed_trees,
            &staged.removed_keys,
        ];
        let row = off_runtime(|| writer.client.query_one(schema::APPEND, &parameters));
        let moved = match row {
            Ok(row) => row.get::<_, i64>(0) == 1,
            Err(error) if writer.client.is_closed() => {
                // Whether the append committed is unknown; whoever is elected next reads it.
                writer.after_failure();
                return Err(database(error));
            }
            Err(error) => {
                // What the database holds now is what counts: start again from it.
                let _ = Self::reload(writer);
                return Err(database(error));
            }
        };
        if !moved {
            // Another node was elected since, or the head moved under this one.
            writer.epoch = None;
            let _ = Self::reload(writer);
            return Err(LogError::NotWriter);
        }
        writer.heads.next_position = to as u64 + 1;
        writer.heads.stream_versions.extend(staged.versions);
        Ok(())
    }

    fn reload(writer: &mut Writer) -> Result<(), LogError> {
        writer.heads.stream_versions.clear();
        let row = off_runtime(|| {
            (writer.client)
                .query_one("SELECT position, epoch FROM steward_log_head", &[])
                .map_err(database)
        })
        .inspect_err(|_| writer.after_failure())?;
        writer.heads.next_position = row.get::<_, i64>(0) as u64 + 1;
        if writer.epoch != Some(row.get::<_, i64>(1)) {
            writer.epoch = None;
        }
        Ok(())
    }

    /// One page of the log from `from` on, up to the head row, in one snapshot.
    fn page(&self, from: u64) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        let rows = self
            .readers
            .with(|client| client.query(schema::READ_PAGE, &[&(from as i64), &READ_PAGE_ROWS]))?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get::<_, i64>(0) as u64, row.get::<_, Vec<u8>>(1)))
            .collect())
    }
}

/// Envelopes read a page at a time: `fetch(next)` answers the rows from `next` on (none at
/// the end); `decode(row, &mut next)` the envelope of one row, moving `next` past it. An error
/// ends the iteration.
fn paged<'a, R: 'a>(
    mut next: u64,
    mut fetch: impl FnMut(u64) -> Result<Vec<R>, LogError> + 'a,
    mut decode: impl FnMut(R, &mut u64) -> Result<Envelope, LogError> + 'a,
) -> Envelopes<'a> {
    let mut page = Vec::new().into_iter();
    let mut done = false;
    Box::new(std::iter::from_fn(move || {
        if done {
            return None;
        }
        let row = match page.next() {
            Some(row) => row,
            None => match fetch(next) {
                Ok(rows) if rows.is_empty() => return None,
                Ok(rows) => {
                    page = rows.into_iter();
                    page.next().expect("a page that is not empty")
                }
                Err(error) => {
                    done = true;
                    return Some(Err(error));
                }
            },
        };
        let decoded = decode(row, &mut next);
        done = decoded.is_err();
        Some(decoded)
    }))
}

/// The columns of one append, one entry per event (and per usage record for the requests).
#[derive(Default)]
struct Staged {
    positions: Vec<i64>,
    streams: Vec<Vec<u8>>,
    versions_column: Vec<i64>,
    records: Vec<Vec<u8>>,
    request_keys: Vec<Vec<u8>>,
    request_positions: Vec<i64>,
    /// Rows of `steward_beside` to keep, and to remove.
    kept_trees: Vec<&'static str>,
    kept_keys: Vec<Vec<u8>>,
    kept_values: Vec<Vec<u8>>,
    removed_trees: Vec<&'static str>,
    removed_keys: Vec<Vec<u8>>,
    /// The stream versions once these land.
    versions: HashMap<StreamId, u64>,
}

impl Staged {
    fn add(&mut self, envelope: &Envelope, record: Vec<u8>) {
        self.positions.push(envelope.position as i64);
        self.streams.push(envelope.stream.storage_prefix().to_vec());
        self.versions_column.push(envelope.stream_version as i64);
        self.records.push(record);
        if let Event::UsageRecorded {
            project_id,
            request_id,
            ..
        } = &envelope.event
        {
            self.request_keys
                .push(request_key(*project_id, *request_id).to_vec());
            self.request_positions.push(envelope.position as i64);
        }
    }
}

impl EventLog for PgLog {
    fn is_writer(&self) -> bool {
        PgLog::is_writer(self)
    }

    fn append_all_with(
        &self,
        commits: Vec<Commit>,
        beside: BesideWrites,
    ) -> Result<Vec<AppendOutcome>, LogError> {
        if commits.len() > COMMITS_PER_APPEND_MAX {
            return Err(LogError::Limit("an append exceeds COMMITS_PER_APPEND_MAX"));
        }
        let mut guard = lock(&self.writer);
        let writer: &mut Writer = &mut guard;
        if writer.epoch.is_none() {
            return Err(LogError::NotWriter);
        }
        let (mut staged, outcomes) =
            off_runtime(|| Self::stage(writer, commits)).inspect_err(|_| writer.after_failure())?;
        staged.add_beside(beside);
        Self::write(writer, staged)?;
        Ok(outcomes)
    }

    fn head(&self) -> Result<u64, LogError> {
        let head: i64 = self.readers.with(|client| {
            client
                .query_one("SELECT position FROM steward_log_head", &[])
                .map(|row| row.get(0))
        })?;
        Ok(head as u64)
    }

    fn stream_version(&self, stream: StreamId) -> Result<u64, LogError> {
        let prefix = stream.storage_prefix();
        let version: i64 = self.readers.with(|client| {
            client
                .query_one(schema::STREAM_VERSION, &[&&prefix[..]])
                .map(|row| row.get(0))
        })?;
        Ok(version as u64)
    }

    fn read_at(&self, position: u64) -> Result<Option<Envelope>, LogError> {
        let row = self
            .readers
            .with(|client| client.query_opt(schema::READ_AT, &[&(position as i64)]))?;
        row.map(|row| codec::decode(position, &row.get::<_, Vec<u8>>(0)))
            .transpose()
    }

    fn read_from(&self, position: u64) -> Envelopes<'_> {
        paged(
            position.max(1),
            |from| self.page(from),
            |(position, record), next| {
                let expected = *next;
                *next += 1;
                if position != expected {
                    return Err(LogError::Corrupt {
                        position: expected,
                        reason: format!("missing; the next record is at {position}"),
                    });
                }
                codec::decode(position, &record)
            },
        )
    }

    fn read_stream(&self, stream: StreamId, version: u64) -> Envelopes<'_> {
        let prefix = stream.storage_prefix();
        let fetch = move |from: u64| {
            let from = from as i64;
            self.readers.with(|client| {
                let parameters: [&(dyn ToSql + Sync); 3] = [&&prefix[..], &from, &READ_PAGE_ROWS];
                client.query(schema::READ_STREAM, &parameters)
            })
        };
        paged(version.max(1), fetch, move |row: ::postgres::Row, next| {
            let position = row.get::<_, i64>(0) as u64;
            let version = row.get::<_, i64>(1) as u64;
            *next = version + 1;
            let envelope = codec::decode(position, &row.get::<_, Vec<u8>>(2))?;
            contract::holds(envelope, "stored", stream, version)
        })
    }

    fn request_position(
        &self,
        project_id: ProjectId,
        request_id: RequestId,
    ) -> Result<Option<u64>, LogError> {
        let key = request_key(project_id, request_id);
        let row = self.readers.with(|client| {
            client.query_opt(
                "SELECT position FROM steward_requests WHERE key = $1",
                &[&&key[..]],
            )
        })?;
        Ok(row.map(|row| row.get::<_, i64>(0) as u64))
    }

    fn recorded_requests(
        &self,
        requests: &[(ProjectId, RequestId)],
    ) -> Result<HashSet<(ProjectId, RequestId)>, LogError> {
        if requests.is_empty() {
            return Ok(HashSet::new());
        }
        let by_key: HashMap<RequestKey, (ProjectId, RequestId)> = (requests.iter())
            .map(|&(project_id, request_id)| {
                (
                    request_key(project_id, request_id),
                    (project_id, request_id),
                )
            })
            .collect();
        let keys: Vec<&[u8]> = by_key.keys().map(|key| &key[..]).collect();
        let rows = self.readers.with(|client| {
            client.query(
                "SELECT key FROM steward_requests WHERE key = ANY($1)",
                &[&keys],
            )
        })?;
        Ok((rows.iter())
            .filter_map(|row| {
                let key: &[u8] = row.get(0);
                let key: RequestKey = key.try_into().ok()?;
                by_key.get(&key).copied()
            })
            .collect())
    }

    fn import(&self, envelopes: &[Envelope]) -> Result<(), LogError> {
        if envelopes.len() > EVENTS_PER_COMMIT_MAX {
            return Err(LogError::Limit("an import exceeds EVENTS_PER_COMMIT_MAX"));
        }
        let mut guard = lock(&self.writer);
        let writer: &mut Writer = &mut guard;
        if writer.epoch.is_none() {
            return Err(LogError::NotWriter);
        }
        let mut staged = Staged::default();
        for (next_position, envelope) in (writer.heads.next_position..).zip(envelopes) {
            let current = match staged.versions.get(&envelope.stream) {
                Some(&version) => version,
                None => match writer.heads.stream_versions.get(&envelope.stream) {
                    Some(&version) => version,
                    None => {
                        off_runtime(|| Self::stream_version_in(&mut writer.client, envelope.stream))
                            .inspect_err(|_| writer.after_failure())?
                    }
                },
            };
            contract::refuse_import(envelope, next_position, current)?;
            staged
                .versions
                .insert(envelope.stream, envelope.stream_version);
            staged.add(envelope, codec::encode(envelope)?);
        }
        Self::write(writer, staged)
    }

    fn verify_observed(&self, checked: &mut dyn FnMut(u64)) -> Result<VerifyReport, LogError> {
        let head = EventLog::head(self)?;
        let walked = contract::walk(self, head, checked, &mut |_| Ok(()))?;
        let requests = walked.requests;
        let indexed: i64 = self.readers.with(|client| {
            client
                .query_one(
                    "SELECT count(*) FROM steward_requests WHERE position <= $1",
                    &[&(head as i64)],
                )
                .map(|row| row.get(0))
        })?;
        if indexed as u64 != requests {
            return Err(LogError::Corrupt {
                position: head,
                reason: format!("{indexed} request index rows for {requests} recorded requests"),
            });
        }
        Ok(walked.report)
    }
}
