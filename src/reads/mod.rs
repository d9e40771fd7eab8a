//! The read side, for every face (the JSON API, the console): each query checks what the caller
//! may see (`access`), takes what it needs from the read models under the read lock, and reads
//! the event log outside it, on a blocking thread when it may read more than one record. A slow
//! read never makes the command processor (which takes the write lock) or authentication wait.
//!
//! One file per concern: `projects` (projects, members, invitations), `keys`, `credits`,
//! `usage` (usage rows and the request log), `audit` and `models`. Each query answers plain values from
//! the read models; the faces put them in their own shapes.

mod audit;
mod budgets;
mod credits;
mod keys;
mod models;
mod offboarding;
mod permissions;
mod projects;
mod usage;

pub use audit::AuditNames;
pub use budgets::{TagMonth, TagsPage};
pub use keys::{KeyListing, KeyStatus};
pub use offboarding::{DyingKey, Offboarding, OFFBOARDING_USAGE_DAYS};
pub use permissions::{rejection_reason, KeyPermissions, Shortfall};
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

use crate::limits::ENTRIES_SCANNED_PER_READ_MAX;

/// Why a read was not answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Access(#[from] AccessError),
    /// What was asked for is not there, or not visible to the caller (`what`: "API key").
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The operator took the model away from the project.
    #[error("project does not have access to the requested model")]
    ModelNotAllowed,
    /// The log could not be read; the cause is for the operator's logs, not the client.
    #[error("storage: {0}")]
    Storage(String),
    /// The log's database failed or could not be reached: the same read may be answered once
    /// it is back. The cause is for the operator's logs.
    #[error("database: {0}")]
    DatabaseUnreachable(String),
}

impl From<LogError> for ReadError {
    fn from(error: LogError) -> Self {
        match error {
            LogError::Database(_) => Self::DatabaseUnreachable(error.to_string()),
            error => Self::Storage(error.to_string()),
        }
    }
}

/// One page of a list read newest first: `limit` entries after skipping `page` pages, of the
/// entries before the position `before` (a cursor from an earlier page's `next`) if given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub page: usize,
    pub before: Option<u64>,
}

/// A page's entries, and where the next page starts (`Page::before`), if anything may be left:
/// after a full page, or where the scan stopped at `ENTRIES_SCANNED_PER_READ_MAX`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageOf<T> {
    pub items: Vec<T>,
    pub next: Option<u64>,
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

/// Runs a read that may touch many log records on a blocking thread, at most
/// `LOG_SCANS_IN_FLIGHT_MAX` at once: the others wait (without a thread) for a slot, so that
/// scans never take every core from the requests that need none.
pub(super) async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, ReadError> + Send + 'static,
) -> Result<T, ReadError> {
    static SLOTS: tokio::sync::Semaphore =
        tokio::sync::Semaphore::const_new(crate::limits::LOG_SCANS_IN_FLIGHT_MAX);
    let _slot = SLOTS
        .acquire()
        .await
        .map_err(|error| ReadError::Storage(format!("the read slots closed: {error}")))?;
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

/// One page of what `keep` makes of a list of positions, walked newest first, examining at
/// most `ENTRIES_SCANNED_PER_READ_MAX` positions.
pub(super) fn page_newest_first<T>(
    projections: &RwLock<Projections>,
    positions: Positions,
    page: Page,
    keep: impl FnMut(u64) -> Result<Option<T>, ReadError>,
) -> Result<PageOf<T>, ReadError> {
    scan_page(
        projections,
        positions,
        page,
        ENTRIES_SCANNED_PER_READ_MAX,
        keep,
    )
}

fn scan_page<T>(
    projections: &RwLock<Projections>,
    positions: Positions,
    page: Page,
    scan_max: usize,
    mut keep: impl FnMut(u64) -> Result<Option<T>, ReadError>,
) -> Result<PageOf<T>, ReadError> {
    let mut to_skip = page.skip();
    let mut items = Vec::new();
    let (mut scanned, mut next) = (0, None);
    newest_first(projections, positions, page.before, |position| {
        scanned += 1;
        if scanned > scan_max {
            next = Some(position + 1);
            return Ok(ControlFlow::Break(()));
        }
        let Some(item) = keep(position)? else {
            return Ok(ControlFlow::Continue(()));
        };
        if to_skip > 0 {
            to_skip -= 1;
            return Ok(ControlFlow::Continue(()));
        }
        items.push(item);
        if items.len() == page.limit {
            next = Some(position);
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(PageOf { items, next })
}

/// Walks a list of log positions newest first, calling `visit` with each until it breaks.
/// Positions are copied out of the read lock a chunk at a time, so the lock is never held while
/// the log is read; the lists only grow at their end, so the chunks stay valid.
pub(super) fn newest_first(
    projections: &RwLock<Projections>,
    positions: Positions,
    before: Option<u64>,
    mut visit: impl FnMut(u64) -> Result<ControlFlow<()>, ReadError>,
) -> Result<(), ReadError> {
    let mut end: Option<usize> = None;
    loop {
        let (chunk, start) = {
            let projections = crate::app::read_lock(projections);
            let all = positions.of(&projections);
            // The lists are in position order: the cursor is found by bisection.
            let end = end.unwrap_or_else(|| {
                before.map_or(all.len(), |before| all.partition_point(|&p| p < before))
            });
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

#[cfg(test)]
mod tests {
    use super::*;
    use steward_events::ProjectId;
    use uuid::Uuid;

    /// Read models whose audit log of one project lists positions 1 to `count`.
    fn audited(count: u64) -> (RwLock<Projections>, Positions) {
        let project_id = ProjectId::from_uuid(Uuid::from_u128(1));
        let mut projections = Projections::default();
        projections
            .audit
            .by_project
            .insert(project_id, (1..=count).collect());
        (RwLock::new(projections), Positions::Audit(project_id))
    }

    fn page(limit: usize, page: usize, before: Option<u64>) -> Page {
        Page {
            limit,
            page,
            before,
        }
    }

    #[test]
    fn cursors_walk_every_entry_newest_first_across_chunks() {
        let (projections, positions) = audited(3000);
        let mut seen: Vec<u64> = Vec::new();
        let mut before = None;
        loop {
            let answer = scan_page(&projections, positions, page(700, 0, before), 10_000, |p| {
                Ok(Some(p))
            })
            .unwrap();
            seen.extend(&answer.items);
            match answer.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, (1..=3000).rev().collect::<Vec<u64>>());
        // Pages by number agree with the cursor.
        let third = scan_page(&projections, positions, page(700, 2, None), 10_000, |p| {
            Ok(Some(p))
        })
        .unwrap();
        assert_eq!(third.items.first(), Some(&1600));
    }

    #[test]
    fn a_filter_matching_nothing_stops_at_the_scan_limit_with_a_cursor_to_go_on() {
        let (projections, positions) = audited(100);
        let nothing = |_| Ok(None::<u64>);
        let first = scan_page(&projections, positions, page(10, 0, None), 30, nothing).unwrap();
        assert!(first.items.is_empty());
        assert_eq!(first.next, Some(71));
        let second = scan_page(
            &projections,
            positions,
            page(10, 0, first.next),
            30,
            nothing,
        )
        .unwrap();
        assert_eq!(second.next, Some(41));
        let last = scan_page(&projections, positions, page(10, 0, Some(11)), 30, nothing).unwrap();
        assert_eq!(last.next, None);
    }
}
