//! What every event log offers, whatever keeps it: the sled log ([`SledLog`]) and the
//! PostgreSQL log ([`super::postgres::PgLog`]). One test suite (`events/tests/suite/`) holds
//! both to it.

use super::*;

/// A boxed iterator over envelopes read from a log.
pub type Envelopes<'a> = Box<dyn Iterator<Item = Result<Envelope, LogError>> + 'a>;

/// The append-only event log: gap-free positions from 1, per-stream versions from 1, commits
/// appended all or none under optional version checks, many commits per durable write.
pub trait EventLog: Send + Sync {
    /// Appends many commits with one durable write (group commit). Each commit is checked
    /// against the versions its predecessors in the same call leave behind; a commit that fails
    /// its check is left out (its outcome says why) and the others still land. The outer
    /// error means storage failed and nothing of this call can be trusted to have landed.
    fn append_all(&self, commits: Vec<Commit>) -> Result<Vec<AppendOutcome>, LogError> {
        self.append_all_with(commits, BesideWrites::default())
    }

    /// `append_all`, with writes to the trees beside the log made durable with the commits
    /// (and written even when no commit lands). An error means storage failed and neither the
    /// commits nor the writes beside them can be trusted to have landed.
    fn append_all_with(
        &self,
        commits: Vec<Commit>,
        beside: BesideWrites,
    ) -> Result<Vec<AppendOutcome>, LogError>;

    /// Appends one commit: a one-commit `append_all`.
    fn append(&self, commit: Commit) -> Result<Vec<Envelope>, LogError> {
        let mut outcomes = self.append_all(vec![commit])?;
        outcomes.pop().expect("one outcome per commit")
    }

    /// Whether this handle may append, as far as it knows: a log one process owns always
    /// may; a shared log's node may while it holds the writer's lock (it loses it when another
    /// node is elected or its database session ends).
    fn is_writer(&self) -> bool {
        true
    }

    /// The position of the last event, 0 when the log is empty.
    fn head(&self) -> Result<u64, LogError>;

    /// The number of events in `stream` (its version), 0 when it does not exist.
    fn stream_version(&self, stream: StreamId) -> Result<u64, LogError>;

    /// The event at `position`, if the log holds it.
    fn read_at(&self, position: u64) -> Result<Option<Envelope>, LogError>;

    /// Every event from `position` (inclusive) on, in order. A record that fails its checks,
    /// or a missing position, ends the iteration with `Corrupt` naming the position.
    fn read_from(&self, position: u64) -> Envelopes<'_>;

    /// The events of one stream from `version` (inclusive) on, in order.
    fn read_stream(&self, stream: StreamId, version: u64) -> Envelopes<'_>;

    /// The position of the `UsageRecorded` of `request_id` in `project_id`, if it was
    /// recorded; sees every append that has returned.
    fn request_position(
        &self,
        project_id: ProjectId,
        request_id: RequestId,
    ) -> Result<Option<u64>, LogError>;

    /// Which of `requests` (project id, request id) were recorded, as `request_position`
    /// answers each; one round trip on a log that lives in a database (the command processor
    /// asks once per batch).
    fn recorded_requests(
        &self,
        requests: &[(ProjectId, RequestId)],
    ) -> Result<HashSet<(ProjectId, RequestId)>, LogError> {
        let mut recorded = HashSet::new();
        for &(project_id, request_id) in requests {
            if self.request_position(project_id, request_id)?.is_some() {
                recorded.insert((project_id, request_id));
            }
        }
        Ok(recorded)
    }

    /// Appends envelopes exported from another log, keeping their positions, versions, ids,
    /// times and actors. Each must continue the log exactly; the first that does not is
    /// refused with its position and nothing of the call lands.
    fn import(&self, envelopes: &[Envelope]) -> Result<(), LogError>;

    /// Reads the whole log and checks it (positions, records, stream versions, indexes),
    /// telling `checked` each position once its record passed.
    fn verify_observed(&self, checked: &mut dyn FnMut(u64)) -> Result<VerifyReport, LogError>;

    /// `verify_observed` without an observer.
    fn verify(&self) -> Result<VerifyReport, LogError> {
        self.verify_observed(&mut |_| {})
    }
}

/// One commit placed in the log: its envelopes, their encoded records, and the version it
/// leaves each of its streams at.
pub(super) struct Placed {
    pub(super) envelopes: Vec<Envelope>,
    pub(super) records: Vec<Vec<u8>>,
    pub(super) versions: Vec<(StreamId, u64)>,
}

/// Places `commit` at the positions from `first`: checks its expected versions and its size,
/// and gives each event its stream version. `version_of` answers a stream's version before
/// this commit (as the append's earlier commits leave it, or as the log holds it). On
/// refusal nothing is placed.
pub(super) fn place(
    commit: Commit,
    first: u64,
    mut version_of: impl FnMut(StreamId) -> Result<u64, LogError>,
) -> Result<Placed, LogError> {
    if commit.events.len() > EVENTS_PER_COMMIT_MAX {
        return Err(LogError::Limit("a commit exceeds EVENTS_PER_COMMIT_MAX"));
    }
    // A commit touches one or two streams: a small list beats a map here.
    let mut versions: Vec<(StreamId, u64)> = Vec::with_capacity(2);
    let mut current = |stream: StreamId, versions: &mut Vec<(StreamId, u64)>| {
        if let Some(&(_, version)) = versions.iter().find(|(known, _)| *known == stream) {
            return Ok(version);
        }
        let version = version_of(stream)?;
        versions.push((stream, version));
        Ok::<u64, LogError>(version)
    };
    for &(stream, expected) in &commit.expected_versions {
        let actual = current(stream, &mut versions)?;
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
        let stream_version = current(stream, &mut versions)? + 1;
        for (known, version) in versions.iter_mut() {
            if *known == stream {
                *version = stream_version;
            }
        }
        let envelope = proposed.placed(first + offset as u64, stream_version);
        records.push(codec::encode(&envelope)?);
        envelopes.push(envelope);
    }
    Ok(Placed {
        envelopes,
        records,
        versions,
    })
}

/// `envelope`, read where a log's index or table said `stream`'s `version` is (`how`:
/// "indexed", "stored"), if it is that.
pub(super) fn holds(
    envelope: Envelope,
    how: &str,
    stream: StreamId,
    version: u64,
) -> Result<Envelope, LogError> {
    if envelope.stream != stream || envelope.stream_version != version {
        return Err(LogError::Corrupt {
            position: envelope.position,
            reason: format!(
                "{how} as {stream} version {version}, holds {} version {}",
                envelope.stream, envelope.stream_version
            ),
        });
    }
    Ok(envelope)
}

/// Why an imported `envelope` does not continue a log whose next position is `next_position`
/// and whose stream holds `current_version` events, if it does not.
pub(super) fn refuse_import(
    envelope: &Envelope,
    next_position: u64,
    current_version: u64,
) -> Result<(), LogError> {
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
    if envelope.stream_version != current_version + 1 {
        return Err(refuse(format!(
            "{} version {} does not follow version {current_version}",
            envelope.stream, envelope.stream_version
        )));
    }
    Ok(())
}

/// What a whole-log check found: the report, and how many requests were recorded.
pub(super) struct Walked {
    pub(super) report: VerifyReport,
    pub(super) requests: u64,
}

/// The checks every log's `verify` makes, reading `log` up to `head`: positions gap-free from
/// 1, every record sound, stream versions contiguous from 1, each recorded request found by
/// its id at its position, and `head` events in all. `more` adds a log's own checks of each
/// event; `checked` is told each position that passed.
pub(super) fn walk(
    log: &dyn EventLog,
    head: u64,
    checked: &mut dyn FnMut(u64),
    more: &mut dyn FnMut(&Envelope) -> Result<(), LogError>,
) -> Result<Walked, LogError> {
    let mut versions: HashMap<StreamId, u64> = HashMap::new();
    let mut events = 0u64;
    let mut requests = 0u64;
    for record in log.read_from(1) {
        let envelope = record?;
        if envelope.position > head {
            // Appended since the check began.
            break;
        }
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
        more(&envelope)?;
        if let Event::UsageRecorded {
            project_id,
            request_id,
            ..
        } = &envelope.event
        {
            if log.request_position(*project_id, *request_id)? != Some(envelope.position) {
                return Err(LogError::Corrupt {
                    position: envelope.position,
                    reason: format!("the request index does not point at {request_id}"),
                });
            }
            requests += 1;
        }
        events += 1;
        checked(envelope.position);
    }
    if events != head {
        return Err(LogError::Corrupt {
            position: events + 1,
            reason: format!("the log's head is {head}, but {events} records read"),
        });
    }
    Ok(Walked {
        report: VerifyReport {
            events,
            streams: versions.len() as u64,
        },
        requests,
    })
}

impl EventLog for SledLog {
    fn append_all_with(
        &self,
        commits: Vec<Commit>,
        beside: BesideWrites,
    ) -> Result<Vec<AppendOutcome>, LogError> {
        SledLog::append_all_with(self, commits, beside)
    }

    fn head(&self) -> Result<u64, LogError> {
        Ok(SledLog::head(self))
    }

    fn stream_version(&self, stream: StreamId) -> Result<u64, LogError> {
        SledLog::stream_version(self, stream)
    }

    fn read_at(&self, position: u64) -> Result<Option<Envelope>, LogError> {
        SledLog::read_at(self, position)
    }

    fn read_from(&self, position: u64) -> Envelopes<'_> {
        Box::new(SledLog::read_from(self, position))
    }

    fn read_stream(&self, stream: StreamId, version: u64) -> Envelopes<'_> {
        Box::new(SledLog::read_stream(self, stream, version))
    }

    fn request_position(
        &self,
        project_id: ProjectId,
        request_id: RequestId,
    ) -> Result<Option<u64>, LogError> {
        SledLog::request_position(self, project_id, request_id)
    }

    fn import(&self, envelopes: &[Envelope]) -> Result<(), LogError> {
        SledLog::import(self, envelopes)
    }

    fn verify_observed(&self, checked: &mut dyn FnMut(u64)) -> Result<VerifyReport, LogError> {
        SledLog::verify_observed(self, checked)
    }
}
