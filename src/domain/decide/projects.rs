//! Projects: creating, renaming (and naming the company), deleting.

use super::{access, person, Context};
use crate::{
    domain::{error::DomainError, CompanyName, ProjectName},
    limits,
};
use steward_events::{Event, Permission, ProjectId, Role};

/// A person creates a project and owns it.
pub(super) fn create(
    cx: &Context,
    project_id: ProjectId,
    name: &ProjectName,
) -> Result<Vec<Event>, DomainError> {
    let account_id = person(cx)?;
    if cx.state.projects.contains_key(&project_id) {
        return Err(DomainError::AlreadyExists);
    }
    let projects = cx
        .state
        .live_account(account_id)
        .map_or(0, |account| account.projects.len());
    if projects >= limits::PROJECTS_PER_ACCOUNT_MAX {
        return Err(DomainError::TooManyProjects);
    }
    Ok(vec![
        Event::ProjectCreated {
            project_id,
            name: name.to_string(),
            created_by: account_id,
        },
        Event::MemberJoined {
            project_id,
            account_id,
            role: Role::Owner,
        },
    ])
}

/// Renames the project and names its company (either, both or neither).
pub(super) fn update(
    cx: &Context,
    project_id: ProjectId,
    name: Option<&ProjectName>,
    company: Option<&CompanyName>,
) -> Result<Vec<Event>, DomainError> {
    let (access, _) = access(cx, project_id)?;
    access.require(Permission::ProjectWrite)?;
    let mut events = Vec::new();
    if let Some(name) = name {
        events.push(Event::ProjectRenamed {
            project_id,
            name: name.to_string(),
        });
    }
    if let Some(company) = company {
        events.push(Event::ProjectCompanyChanged {
            project_id,
            company: company.to_string(),
        });
    }
    Ok(events)
}

pub(super) fn delete(cx: &Context, project_id: ProjectId) -> Result<Vec<Event>, DomainError> {
    let (access, _) = access(cx, project_id)?;
    access.require(Permission::ProjectWriteDestroy)?;
    Ok(vec![Event::ProjectDeleted { project_id }])
}
