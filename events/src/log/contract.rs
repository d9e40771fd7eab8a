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
    fn append_all(&self, commits: Vec<Commit>) -> Result<Vec<AppendOutcome>, LogError>;

    /// Appends one commit: a one-commit `append_all`.
    fn append(&self, commit: Commit) -> Result<Vec<Envelope>, LogError> {
        let mut outcomes = self.append_all(vec![commit])?;
        outcomes.pop().expect("one outcome per commit")
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

impl EventLog for SledLog {
    fn append_all(&self, commits: Vec<Commit>) -> Result<Vec<AppendOutcome>, LogError> {
        SledLog::append_all(self, commits)
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
