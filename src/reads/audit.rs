//! The audit log: a project's events, newest first.

use super::{blocking, page_newest_first, Page, PageOf, Positions, ReadError};
use crate::{access::Principal, Steward};
use std::sync::Arc;
use steward_events::{Envelope, Permission, ProjectId};
use steward_projections::audit::AuditFilter;

impl Steward {
    /// A page of the project's audit log (owners and admins), newest first, of the events
    /// `filter` keeps; a transfer shows on both sides.
    pub async fn audit(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        filter: AuditFilter,
        page: Page,
    ) -> Result<PageOf<Envelope>, ReadError> {
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
