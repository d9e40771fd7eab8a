//! Usage reads: the rows a usage or billing query selects, and the request log.

use super::{blocking, newest_first, page_newest_first, Page, PageOf, Positions, ReadError};
use crate::{
    access::{AccessError, Principal},
    Steward,
};
use std::{ops::ControlFlow, sync::Arc};
use steward_events::{EventLog, Permission, ProjectId, RequestId};
use steward_projections::usage::{
    query::{RequestFilter, Row, Selection, UsageQuery},
    RequestView,
};

impl Steward {
    /// The rows a usage or billing query selects in a project whose `permission` the viewer
    /// has. The cells are taken under the read lock; requests to read back (several tags) are
    /// read after it, on a blocking thread, their positions copied out a chunk at a time.
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
            Some(Selection::Requests) => {
                let (log, projections) = (
                    Arc::clone(self.log_arc()),
                    Arc::clone(self.projections_arc()),
                );
                blocking(move || {
                    // Every request, in whatever order: the answers sum and group the rows.
                    let mut rows = Vec::new();
                    let positions = Positions::Requests(project_id);
                    newest_first(&projections, positions, None, |position| {
                        rows.extend(query.rows_of(&request_at(log.as_ref(), position)?));
                        Ok(ControlFlow::Continue(()))
                    })?;
                    Ok(rows)
                })
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
    ) -> Result<PageOf<RequestView>, ReadError> {
        self.require(viewer, project_id, Permission::UsageRead)?;
        let (log, projections) = (
            Arc::clone(self.log_arc()),
            Arc::clone(self.projections_arc()),
        );
        blocking(move || {
            let positions = Positions::Requests(project_id);
            page_newest_first(&projections, positions, page, |position| {
                let request = request_at(log.as_ref(), position)?;
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
}

/// The request recorded at `position`, read back from the event log.
fn request_at(log: &dyn EventLog, position: u64) -> Result<RequestView, ReadError> {
    let envelope = log
        .read_at(position)?
        .ok_or_else(|| ReadError::Storage(format!("no event at position {position}")))?;
    RequestView::of(&envelope)
        .ok_or_else(|| ReadError::Storage(format!("position {position} is no usage record")))
}
