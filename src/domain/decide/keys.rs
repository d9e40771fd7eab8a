//! API keys: created by a member with scopes no greater than their own; deleted or rotated by
//! their owner or by whoever manages members; handed from one member to another by whoever
//! manages both members' keys.

use super::{access, dedup, Access, Context};
use crate::{
    domain::{
        command::NewKey,
        error::DomainError,
        rules::{may_delete_key, may_hand_over_key},
        state::{KeyState, ProjectState},
    },
    limits,
};
use steward_events::{AccountId, Event, KeyId, Permission, ProjectId, Scope, Sha256Digest};

pub(super) fn create(cx: &Context, key: &NewKey) -> Result<Vec<Event>, DomainError> {
    let NewKey {
        project_id,
        key_id,
        secret_hash,
        comment,
        scopes,
        tags,
        expires_at,
    } = key;
    let (access, project) = access(cx, *project_id)?;
    access.require(Permission::KeysWrite)?;
    let created_by = access.person()?;
    let live_keys = project.keys.values().filter(|key| !key.deleted).count();
    if live_keys >= limits::KEYS_PER_PROJECT_MAX {
        return Err(DomainError::TooManyKeys);
    }
    if scopes.is_empty() || scopes.len() > limits::SCOPES_PER_KEY_MAX {
        return Err(DomainError::InvalidScopes);
    }
    if !Scope::union_of(scopes).is_subset_of(access.permissions) {
        return Err(DomainError::ScopeBeyondOwn);
    }
    if tags.len() > limits::TAGS_PER_KEY_MAX {
        return Err(DomainError::TooManyTags);
    }
    if expires_at.is_some_and(|expires_at| expires_at <= cx.now) {
        return Err(DomainError::ExpiryInPast);
    }
    if cx.state.key_projects.contains_key(key_id) {
        return Err(DomainError::AlreadyExists);
    }
    Ok(vec![Event::ApiKeyCreated {
        project_id: *project_id,
        key_id: *key_id,
        created_by,
        comment: comment.to_string(),
        scopes: dedup(scopes),
        tags: dedup(tags),
        expires_at: *expires_at,
        secret_hash: *secret_hash,
    }])
}

/// A live key of the project, one the actor may delete or rotate.
fn managed_key<'s>(
    access: &Access,
    project: &'s ProjectState,
    key_id: KeyId,
) -> Result<&'s KeyState, DomainError> {
    access.require(Permission::KeysWrite)?;
    let key = project
        .keys
        .get(&key_id)
        .filter(|key| !key.deleted)
        .ok_or(DomainError::KeyNotFound)?;
    if !may_delete_key(access.permissions, access.account_id, key.owner) {
        return Err(DomainError::InsufficientPermissions);
    }
    Ok(key)
}

pub(super) fn delete(
    cx: &Context,
    project_id: ProjectId,
    key_id: KeyId,
) -> Result<Vec<Event>, DomainError> {
    let (access, project) = access(cx, project_id)?;
    managed_key(&access, project, key_id)?;
    Ok(vec![Event::ApiKeyDeleted { project_id, key_id }])
}

pub(super) fn rotate(
    cx: &Context,
    project_id: ProjectId,
    key_id: KeyId,
    secret_hash: Sha256Digest,
    overlap_seconds: i64,
) -> Result<Vec<Event>, DomainError> {
    let (access, project) = access(cx, project_id)?;
    managed_key(&access, project, key_id)?;
    if !(0..=limits::ROTATION_OVERLAP_SECONDS_MAX).contains(&overlap_seconds) {
        return Err(DomainError::InvalidOverlap);
    }
    Ok(vec![Event::ApiKeyRotated {
        project_id,
        key_id,
        secret_hash,
        previous_secret_expires_at: cx.now.plus_seconds(overlap_seconds),
    }])
}

pub(super) fn hand_over(
    cx: &Context,
    project_id: ProjectId,
    key_id: KeyId,
    to: AccountId,
) -> Result<Vec<Event>, DomainError> {
    let (access, project) = access(cx, project_id)?;
    let key = project
        .keys
        .get(&key_id)
        .filter(|key| !key.deleted)
        .ok_or(DomainError::KeyNotFound)?;
    Ok(
        hand_over_key(&access, project_id, project, key_id, key.owner, to)?
            .into_iter()
            .collect(),
    )
}

/// The hand-over of one live key from `from` to `to`, both members: nothing if it already acts
/// as `to`.
pub(super) fn hand_over_key(
    access: &Access,
    project_id: ProjectId,
    project: &ProjectState,
    key_id: KeyId,
    from: AccountId,
    to: AccountId,
) -> Result<Option<Event>, DomainError> {
    let from_role = *project
        .members
        .get(&from)
        .expect("a live key's owner is a member");
    let to_role = *project
        .members
        .get(&to)
        .ok_or(DomainError::MemberNotFound)?;
    if !may_hand_over_key(access.permissions, from_role, to_role) {
        return Err(DomainError::InsufficientPermissions);
    }
    if from == to {
        return Ok(None);
    }
    Ok(Some(Event::ApiKeyOwnerChanged {
        project_id,
        key_id,
        from,
        to,
    }))
}
