//! The read side, for every face (the JSON API, the console): each query checks what the caller
//! may see (`access`), takes what it needs from the read models under the read lock, and reads
//! the event log outside it, on a blocking thread when it may read more than one record. A slow
//! read never makes the command processor (which takes the write lock) or authentication wait.

use crate::{
    access::{AccessError, Principal, ProjectAccess},
    Steward,
};
use std::{
    ops::ControlFlow,
    sync::{Arc, RwLock},
};
use steward_events::{Envelope, EventLog, LogError, Permission, ProjectId, RequestId};
use steward_projections::{
    audit::AuditFilter,
    usage::{
        query::{RequestFilter, Row, Selection, UsageQuery},
        RequestView,
    },
    Projections,
};

/// Positions copied out of the read lock at a time when walking a list newest first.
pub const POSITIONS_CHUNK: usize = 1024;

/// Why a read was not answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The log could not be read; the cause is for the operator's logs, not the client.
    #[error("storage: {0}")]
    Storage(String),
}

impl From<LogError> for ReadError {
    fn from(error: LogError) -> Self {
        Self::Storage(error.to_string())
    }
}

/// One page of a list read newest first: `limit` entries after skipping `page` pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub page: usize,
}

impl Page {
    fn skip(&self) -> usize {
        self.page.saturating_mul(self.limit)
    }
}

impl Steward {
    /// What `viewer` may do in `project_id`; a project it may not see is not found.
    pub fn access(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
    ) -> Result<ProjectAccess, AccessError> {
        self.read(|projections| viewer.access(projections, project_id))
    }

    /// Refuses unless `viewer` may `permission` in `project_id`.
    pub fn require(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        permission: Permission,
    ) -> Result<(), AccessError> {
        self.access(viewer, project_id)?.require(permission)
    }

    /// The rows a usage or billing query selects in a project whose `permission` the viewer
    /// has. The cells are taken under the read lock; requests to read back (several tags) are
    /// read after it, on a blocking thread.
    pub async fn usage_rows(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        query: UsageQuery,
        permission: Permission,
    ) -> Result<Vec<Row>, ReadError> {
        let selection = self.read(|projections| {
            viewer
                .access(projections, project_id)?
                .require(permission)?;
            Ok::<_, AccessError>(
                projections
                    .usage
                    .project(project_id)
                    .map(|usage| usage.select(&query)),
            )
        })?;
        match selection {
            None => Ok(Vec::new()),
            Some(Selection::Rows(rows)) => Ok(rows),
            Some(selection) => {
                let log = Arc::clone(self.log_arc());
                blocking(move || selection.rows(&query, |position| request_at(&log, position)))
                    .await
            }
        }
    }

    /// A page of the project's request log, newest first, of the requests `filter` keeps.
    pub async fn requests(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        filter: RequestFilter,
        page: Page,
    ) -> Result<Vec<RequestView>, ReadError> {
        self.require(viewer, project_id, Permission::UsageRead)?;
        let (log, projections) = (
            Arc::clone(self.log_arc()),
            Arc::clone(self.projections_arc()),
        );
        blocking(move || {
            let positions = Positions::Requests(project_id);
            page_newest_first(&projections, positions, page, |position| {
                let request = request_at(&log, position)?;
                Ok(filter.wants(&request).then_some(request))
            })
        })
        .await
    }

    /// One recorded request of a project the viewer may read the usage of.
    pub fn request(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        request_id: RequestId,
    ) -> Result<Option<RequestView>, ReadError> {
        self.require(viewer, project_id, Permission::UsageRead)?;
        self.recorded_request(project_id, request_id)
    }

    /// A project's recorded request, by id, whoever asks: two point reads of the log.
    pub fn recorded_request(
        &self,
        project_id: ProjectId,
        request_id: RequestId,
    ) -> Result<Option<RequestView>, ReadError> {
        let log = self.log();
        log.request_position(project_id, request_id)?
            .map(|position| request_at(log, position))
            .transpose()
    }

    /// A page of the project's audit log (owners and admins), newest first, of the events
    /// `filter` keeps; a transfer shows on both sides.
    pub async fn audit(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        filter: AuditFilter,
        page: Page,
    ) -> Result<Vec<Envelope>, ReadError> {
        self.require(viewer, project_id, Permission::AdminsRead)?;
        let (log, projections) = (
            Arc::clone(self.log_arc()),
            Arc::clone(self.projections_arc()),
        );
        blocking(move || {
            let positions = Positions::Audit(project_id);
            page_newest_first(&projections, positions, page, |position| {
                let envelope = log
                    .read_at(position)?
                    .ok_or_else(|| ReadError::Storage(format!("position {position} vanished")))?;
                Ok(filter.wants(&envelope).then_some(envelope))
            })
        })
        .await
    }
}

/// Runs a read that may touch many log records on a blocking thread.
async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, ReadError> + Send + 'static,
) -> Result<T, ReadError> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|error| ReadError::Storage(format!("a read task failed: {error}")))?
}

/// The request recorded at `position`, read back from the event log.
fn request_at(log: &EventLog, position: u64) -> Result<RequestView, ReadError> {
    let envelope = log
        .read_at(position)?
        .ok_or_else(|| ReadError::Storage(format!("no event at position {position}")))?;
    RequestView::of(&envelope)
        .ok_or_else(|| ReadError::Storage(format!("position {position} is no usage record")))
}

/// A list of log positions a read model keeps, oldest first; it only grows at its end.
#[derive(Clone, Copy)]
enum Positions {
    /// A project's recorded requests.
    Requests(ProjectId),
    /// The events concerning a project.
    Audit(ProjectId),
}

impl Positions {
    fn of(self, projections: &Projections) -> &[u64] {
        match self {
            Positions::Requests(project_id) => projections
                .usage
                .project(project_id)
                .map_or(&[][..], |usage| &usage.requests),
            Positions::Audit(project_id) => projections.audit.of_project(project_id),
        }
    }
}

/// One page of what `keep` makes of a list of positions, walked newest first.
fn page_newest_first<T>(
    projections: &RwLock<Projections>,
    positions: Positions,
    page: Page,
    mut keep: impl FnMut(u64) -> Result<Option<T>, ReadError>,
) -> Result<Vec<T>, ReadError> {
    let mut to_skip = page.skip();
    let mut kept = Vec::new();
    newest_first(projections, positions, |position| {
        let Some(item) = keep(position)? else {
            return Ok(ControlFlow::Continue(()));
        };
        if to_skip > 0 {
            to_skip -= 1;
            return Ok(ControlFlow::Continue(()));
        }
        kept.push(item);
        Ok(if kept.len() == page.limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    Ok(kept)
}

/// Walks a list of log positions newest first, calling `visit` with each until it breaks.
/// Positions are copied out of the read lock a chunk at a time, so the lock is never held while
/// the log is read; the lists only grow at their end, so the chunks stay valid.
fn newest_first(
    projections: &RwLock<Projections>,
    positions: Positions,
    mut visit: impl FnMut(u64) -> Result<ControlFlow<()>, ReadError>,
) -> Result<(), ReadError> {
    let mut end: Option<usize> = None;
    loop {
        let (chunk, start) = {
            let projections = projections.read().expect("projections lock");
            let all = positions.of(&projections);
            let end = end.unwrap_or(all.len());
            let start = end.saturating_sub(POSITIONS_CHUNK);
            (all[start..end].to_vec(), start)
        };
        for &position in chunk.iter().rev() {
            if visit(position)?.is_break() {
                return Ok(());
            }
        }
        if start == 0 {
            return Ok(());
        }
        end = Some(start);
    }
}
