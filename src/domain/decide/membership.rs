//! Membership: changing a member's role, removing a member, leaving. A project always keeps an
//! owner, and nobody changes or removes a role above their own.

use super::{access, ensure_keeps_an_owner, Context};
use crate::domain::error::DomainError;
use steward_events::{AccountId, Event, Permission, ProjectId, RemovalReason, Role};

pub(super) fn change_role(
    cx: &Context,
    project_id: ProjectId,
    account_id: AccountId,
    role: Role,
) -> Result<Vec<Event>, DomainError> {
    let (access, project) = access(cx, project_id)?;
    let current = *project
        .members
        .get(&account_id)
        .ok_or(DomainError::MemberNotFound)?;
    access.require(Permission::MembersWriteScopes)?;
    access.require(current.change_permission())?;
    // As for invitations: holding the new role's permission implies holding the role.
    access.require(role.change_permission())?;
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
    let (access, project) = access(cx, project_id)?;
    let current = *project
        .members
        .get(&account_id)
        .ok_or(DomainError::MemberNotFound)?;
    access.require(Permission::MembersWriteKick)?;
    access.require(current.kick_permission())?;
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
