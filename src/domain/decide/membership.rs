//! Membership: changing a member's role, removing a member, leaving. A project always keeps an
//! owner, and nobody changes or removes a role above their own.

use super::{access, ensure_keeps_an_owner, Access, Context};
use crate::domain::{
    error::DomainError,
    rules::{may_change_role, may_remove},
    state::ProjectState,
};
use steward_events::{AccountId, Event, ProjectId, RemovalReason, Role};

/// What the actor may do in the project, and the current role of the member acted on.
fn member<'s>(
    cx: &Context<'s>,
    project_id: ProjectId,
    account_id: AccountId,
) -> Result<(Access, &'s ProjectState, Role), DomainError> {
    let (access, project) = access(cx, project_id)?;
    let current = *project
        .members
        .get(&account_id)
        .ok_or(DomainError::MemberNotFound)?;
    Ok((access, project, current))
}

pub(super) fn change_role(
    cx: &Context,
    project_id: ProjectId,
    account_id: AccountId,
    role: Role,
) -> Result<Vec<Event>, DomainError> {
    let (access, project, current) = member(cx, project_id, account_id)?;
    // As for invitations: holding the new role's permission implies holding the role.
    if !may_change_role(access.permissions, current, role) {
        return Err(DomainError::InsufficientPermissions);
    }
    if current == role {
        return Ok(vec![]);
    }
    ensure_keeps_an_owner(project, current)?;
    Ok(vec![Event::RoleChanged {
        project_id,
        account_id,
        from: current,
        to: role,
    }])
}

pub(super) fn remove(
    cx: &Context,
    project_id: ProjectId,
    account_id: AccountId,
) -> Result<Vec<Event>, DomainError> {
    let (access, project, current) = member(cx, project_id, account_id)?;
    if !may_remove(access.permissions, current) {
        return Err(DomainError::InsufficientPermissions);
    }
    ensure_keeps_an_owner(project, current)?;
    Ok(vec![Event::MemberRemoved {
        project_id,
        account_id,
        reason: RemovalReason::Kicked,
    }])
}

pub(super) fn leave(cx: &Context, project_id: ProjectId) -> Result<Vec<Event>, DomainError> {
    let (access, project) = access(cx, project_id)?;
    let account_id = access.person()?;
    ensure_keeps_an_owner(project, access.role)?;
    Ok(vec![Event::MemberLeft {
        project_id,
        account_id,
    }])
}
