//! Projects: creating, renaming (and naming the company), deleting.

use super::{access, check_name, check_optional_name, person, Context};
use crate::domain::error::DomainError;
use steward_events::{Event, Permission, ProjectId, Role};

/// A person creates a project and owns it.
pub(super) fn create(
    cx: &Context,
    project_id: ProjectId,
    name: &str,
) -> Result<Vec<Event>, DomainError> {
    let account_id = person(cx)?;
    if cx.state.projects.contains_key(&project_id) {
        return Err(DomainError::AlreadyExists);
    }
    check_name(name)?;
    Ok(vec![
        Event::ProjectCreated {
            project_id,
            name: name.to_owned(),
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
    name: Option<&str>,
    company: Option<&str>,
) -> Result<Vec<Event>, DomainError> {
    let (access, _) = access(cx, project_id)?;
    access.require(Permission::ProjectWrite)?;
    let mut events = Vec::new();
    if let Some(name) = name {
        check_name(name)?;
        events.push(Event::ProjectRenamed {
            project_id,
            name: name.to_owned(),
        });
    }
    if let Some(company) = company {
        check_optional_name(company)?;
        events.push(Event::ProjectCompanyChanged {
            project_id,
            company: company.to_owned(),
        });
    }
    Ok(events)
}

pub(super) fn delete(cx: &Context, project_id: ProjectId) -> Result<Vec<Event>, DomainError> {
    let (access, _) = access(cx, project_id)?;
    access.require(Permission::ProjectWriteDestroy)?;
    Ok(vec![Event::ProjectDeleted { project_id }])
}
