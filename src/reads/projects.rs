//! Projects, their members and their invitations, as each caller may see them.

use super::ReadError;
use crate::{access::Principal, Steward};
use steward_events::{AccountId, Email, Permission, ProjectId, Role, Timestamp};
use steward_projections::membership::ProjectView;

/// A project in a list of projects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectListing {
    pub project_id: ProjectId,
    pub name: String,
}

/// A member of a project, with the person's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberListing {
    pub account_id: AccountId,
    pub role: Role,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

impl Steward {
    /// The projects `viewer` may see: a key's own project (with project:read), a person's
    /// projects, or every project for the operator.
    pub fn projects(&self, viewer: &Principal) -> Vec<ProjectListing> {
        self.read(|projections| {
            let membership = &projections.membership;
            let visible: Vec<ProjectId> = match viewer {
                Principal::Key(key) if key.permissions.contains(Permission::ProjectRead) => {
                    vec![key.project_id]
                }
                Principal::Key(_) => Vec::new(),
                Principal::Account(account_id) => membership.projects_of(*account_id),
                Principal::Operator => membership.projects.keys().copied().collect(),
            };
            visible
                .into_iter()
                .filter_map(|project_id| {
                    let project = membership.project(project_id)?;
                    Some(ProjectListing {
                        project_id,
                        name: project.name.clone(),
                    })
                })
                .collect()
        })
    }

    /// A project `viewer` may read.
    pub fn project(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
    ) -> Result<ProjectView, ReadError> {
        self.read(|projections| {
            viewer
                .access(projections, project_id)?
                .require(Permission::ProjectRead)?;
            Ok::<_, ReadError>(projections.membership.project(project_id).cloned())
        })?
        .ok_or(ReadError::Access(
            crate::access::AccessError::ProjectNotFound,
        ))
    }

    /// The members of a project whose members `viewer` may read, in account id order: now, or
    /// at the instant `as_of`.
    pub fn members(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        as_of: Option<Timestamp>,
    ) -> Result<Vec<MemberListing>, ReadError> {
        self.read(|projections| {
            viewer
                .access(projections, project_id)?
                .require(Permission::MembersRead)?;
            let membership = &projections.membership;
            let members = match as_of {
                None => (membership.project(project_id)).map(|project| project.members.clone()),
                Some(at) => (membership.history(project_id)).map(|history| history.members_at(at)),
            };
            Ok(members
                .into_iter()
                .flatten()
                .map(|(account_id, role)| {
                    let person = membership.person(account_id);
                    MemberListing {
                        account_id,
                        role,
                        email: person.email,
                        first_name: person.first_name,
                        last_name: person.last_name,
                    }
                })
                .collect())
        })
    }

    /// Everyone who has been a member of the project, now or before (by the membership
    /// history), for a viewer who may read its members: each one's account id and email (empty
    /// once their account is deleted), in email order.
    pub fn members_ever(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
    ) -> Result<Vec<(AccountId, String)>, ReadError> {
        self.read(|projections| {
            viewer
                .access(projections, project_id)?
                .require(Permission::MembersRead)?;
            let membership = &projections.membership;
            let accounts: std::collections::BTreeSet<AccountId> = (membership.history(project_id))
                .map(|history| history.member_spans.iter().map(|span| span.account_id))
                .into_iter()
                .flatten()
                .collect();
            let mut people: Vec<(AccountId, String)> = (accounts.into_iter())
                .map(|account_id| (account_id, membership.person(account_id).email))
                .collect();
            people.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
            Ok(people)
        })
    }

    /// A member's role: one's own always, another's with the permission to read that role.
    pub fn member_role(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        account_id: AccountId,
    ) -> Result<Role, ReadError> {
        self.read(|projections| {
            let access = viewer.access(projections, project_id)?;
            let role = projections
                .membership
                .role(project_id, account_id)
                .ok_or(ReadError::NotFound("Member"))?;
            if access.account_id != Some(account_id) {
                access.require(role.read_scopes_permission())?;
            }
            Ok(role)
        })
    }

    /// The invitations of a project acceptable at `now`, by email; or those acceptable at the
    /// instant `as_of`.
    pub fn invitations(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        now: Timestamp,
        as_of: Option<Timestamp>,
    ) -> Result<Vec<(Email, Role)>, ReadError> {
        self.read(|projections| {
            viewer
                .access(projections, project_id)?
                .require(Permission::MembersReadInvites)?;
            let membership = &projections.membership;
            Ok(match as_of {
                None => membership.pending_invitations(project_id, now),
                Some(at) => (membership.history(project_id))
                    .map(|history| history.invitations_at(at).into_iter().collect())
                    .unwrap_or_default(),
            })
        })
    }
}
