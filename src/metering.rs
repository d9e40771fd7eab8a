//! Metering for every face: recording one request the paid API served. A request id recorded
//! before answers its first result, read back from the log.

use crate::{
    domain::{Command, DomainError, UsageReport},
    processor::CommandError,
    reads::ReadError,
    Steward,
};
use steward_events::{Actor, ProjectId};
use steward_projections::usage::RequestView;

/// Why a request was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum MeteringError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl Steward {
    /// Records `report` in `project_id` as `actor`; the same request id again answers the
    /// request as first recorded.
    pub async fn record_usage(
        &self,
        actor: Actor,
        project_id: ProjectId,
        report: UsageReport,
    ) -> Result<RequestView, MeteringError> {
        let request_id = report.request_id;
        let command = Command::RecordUsage { project_id, report };
        let recorded = match self.execute(actor, command).await {
            Ok(envelopes) => envelopes.iter().find_map(RequestView::of),
            Err(CommandError::Domain(DomainError::DuplicateRequest)) => {
                self.recorded_request(project_id, request_id)?
            }
            Err(error) => return Err(error.into()),
        };
        recorded.ok_or_else(|| {
            MeteringError::Read(ReadError::Storage(format!(
                "the recorded request {request_id} is not in the log"
            )))
        })
    }
}
