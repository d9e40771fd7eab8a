//! Balances (each grant's unexpired remainder, in spending order) and purchases.

use super::ReadError;
use crate::{access::Principal, Steward};
use steward_events::{GrantId, Permission, ProjectId, Timestamp};
use steward_projections::credits::GrantView;

impl Steward {
    /// The project's balances not expired at `as_of`, in the order they will be spent.
    pub fn balances(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        as_of: Timestamp,
    ) -> Result<Vec<(GrantId, GrantView)>, ReadError> {
        self.billing_read(viewer, project_id, |credits| {
            credits
                .balances(as_of)
                .into_iter()
                .map(|(grant_id, grant)| (grant_id, grant.clone()))
                .collect()
        })
    }

    /// One balance not expired at `as_of`.
    pub fn balance(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        grant_id: GrantId,
        as_of: Timestamp,
    ) -> Result<GrantView, ReadError> {
        self.billing_read(viewer, project_id, |credits| {
            credits.balance(grant_id, as_of).cloned()
        })?
        .ok_or(ReadError::NotFound("Balance"))
    }

    /// Every grant the project received, oldest first.
    pub fn orders(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
    ) -> Result<Vec<(GrantId, GrantView)>, ReadError> {
        self.billing_read(viewer, project_id, |credits| {
            credits
                .orders()
                .into_iter()
                .map(|(grant_id, grant)| (grant_id, grant.clone()))
                .collect()
        })
    }

    /// `read` of the project's credits (none yet reads as empty), with billing:read.
    fn billing_read<T: Default>(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        read: impl FnOnce(&steward_projections::credits::ProjectCredits) -> T,
    ) -> Result<T, ReadError> {
        self.read(|projections| {
            viewer
                .access(projections, project_id)?
                .require(Permission::BillingRead)?;
            Ok(projections
                .credits
                .project(project_id)
                .map(read)
                .unwrap_or_default())
        })
    }
}
