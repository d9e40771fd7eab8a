//! The read side, for every face (the JSON API, the console): each query checks what the caller
//! may see (`access`), takes what it needs from the read models under the read lock, and reads
//! the event log outside it, on a blocking thread when it may read more than one record. A slow
//! read never makes the command processor (which takes the write lock) or authentication wait.
//!
//! One file per concern: `projects` (projects, members, invitations), `keys`, `credits`,
//! `usage` (usage rows and the request log) and `audit`. Each query answers plain values from
//! the read models; the faces put them in their own shapes.

mod audit;
mod credits;
mod keys;
mod projects;
mod usage;

pub use keys::{KeyListing, KeyStatus};
pub use projects::{MemberListing, ProjectListing};

use crate::{
    access::{AccessError, Principal, ProjectAccess},
    Steward,
};
use std::{ops::ControlFlow, sync::RwLock};
use steward_events::{LogError, Permission, ProjectId};
use steward_projections::Projections;

/// Positions copied out of the read lock at a time when walking a list newest first.
pub const POSITIONS_CHUNK: usize = 1024;

/// Why a read was not answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Access(#[from] AccessError),
    /// What was asked for is not there, or not visible to the caller (`what`: "API key").
    #[error("{0} not found")]
    NotFound(&'static str),
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
}

/// Runs a read that may touch many log records on a blocking thread.
pub(super) async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, ReadError> + Send + 'static,
) -> Result<T, ReadError> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|error| ReadError::Storage(format!("a read task failed: {error}")))?
}

/// A list of log positions a read model keeps, oldest first; it only grows at its end.
#[derive(Clone, Copy)]
pub(super) enum Positions {
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
pub(super) fn page_newest_first<T>(
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
            let projections = crate::app::read_lock(projections);
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
