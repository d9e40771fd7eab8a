//! API keys: created by a member with scopes no greater than their own, deleted by their
//! creator or by whoever manages members.

use super::{access, dedup, Context};
use crate::{
    domain::{command::NewKey, error::DomainError, rules::may_delete_key},
    limits,
};
use steward_events::{Event, KeyId, Permission, ProjectId, Scope};

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

pub(super) fn delete(
    cx: &Context,
    project_id: ProjectId,
    key_id: KeyId,
) -> Result<Vec<Event>, DomainError> {
    let (access, project) = access(cx, project_id)?;
    access.require(Permission::KeysWrite)?;
    let key = project
        .keys
        .get(&key_id)
        .filter(|key| !key.deleted)
        .ok_or(DomainError::KeyNotFound)?;
    if !may_delete_key(access.permissions, access.account_id, key.created_by) {
        return Err(DomainError::InsufficientPermissions);
    }
    Ok(vec![Event::ApiKeyDeleted { project_id, key_id }])
}
