//! Membership: changing a member's role, removing a member, leaving. A project always keeps an
//! owner, and nobody changes or removes a role above their own.

use super::{access, ensure_keeps_an_owner, keys::hand_over_key, Access, Context};
use crate::domain::{
    error::DomainError,
    rules::{may_change_role, may_remove},
    state::ProjectState,
};
use steward_events::{AccountId, Event, KeyId, ProjectId, RemovalReason, Role};

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

/// Removes a member; with `reassign_keys_to`, every key acting as them is handed to that member
/// first (in key id order), so that none of them stops working.
pub(super) fn remove(
    cx: &Context,
    project_id: ProjectId,
    account_id: AccountId,
    reassign_keys_to: Option<AccountId>,
) -> Result<Vec<Event>, DomainError> {
    let (access, project, current) = member(cx, project_id, account_id)?;
    if !may_remove(access.permissions, current) {
        return Err(DomainError::InsufficientPermissions);
    }
    ensure_keeps_an_owner(project, current)?;
    let mut events = Vec::new();
    if let Some(to) = reassign_keys_to {
        if to == account_id {
            return Err(DomainError::InvalidReassignment);
        }
        // Named even when the member has no key to hand over.
        if !project.members.contains_key(&to) {
            return Err(DomainError::MemberNotFound);
        }
        let mut key_ids: Vec<KeyId> = project
            .keys
            .iter()
            .filter(|(_, key)| !key.deleted && key.owner == account_id)
            .map(|(key_id, _)| *key_id)
            .collect();
        key_ids.sort_unstable();
        for key_id in key_ids {
            events.extend(hand_over_key(
                &access, project_id, project, key_id, account_id, to,
            )?);
        }
    }
    events.push(Event::MemberRemoved {
        project_id,
        account_id,
        reason: RemovalReason::Kicked,
    });
    Ok(events)
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
