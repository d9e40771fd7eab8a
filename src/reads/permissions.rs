//! Why not? What a key may do, and for each scope it was given but cannot use, the reason:
//! its owner's current role lacks it, or the key no longer works at all (expired, deleted,
//! its owner left or deleted their account, the project deleted, or the secret presented was
//! rotated away). A key's owner is the member it acts as: its creator unless it was handed
//! over; the reasons keep the API's words, `creator_role` and `creator_left`.

use super::ReadError;
use crate::{access::Principal, Steward};
use steward_events::{
    AccountId, KeyId, Permission, Permissions, ProjectId, Role, Scope, Sha256Digest, Timestamp,
};
use steward_projections::{
    keys::{KeyRejection, KeyView, Keys},
    Projections,
};

/// A scope the key was given and cannot use, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shortfall {
    pub scope: Scope,
    /// `creator_role`, `expired`, `deleted`, `creator_left`, `creator_deleted`,
    /// `project_deleted`, `rotated`.
    pub reason: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPermissions {
    pub key_id: KeyId,
    pub project_id: ProjectId,
    /// The scopes the key was created with.
    pub scopes: Vec<Scope>,
    pub creator: AccountId,
    pub creator_email: String,
    /// The member the key acts as.
    pub owner: AccountId,
    pub owner_email: String,
    /// The owner's current role in the project; none once they are gone from it.
    pub owner_role: Option<Role>,
    /// What the key may do now: its scopes ∩ its owner's role (nothing if it no longer works).
    pub effective: Permissions,
    pub missing: Vec<Shortfall>,
}

/// Why a key does not work, in the words of the answer.
pub fn rejection_reason(rejection: KeyRejection) -> &'static str {
    match rejection {
        KeyRejection::Unknown => "unknown",
        KeyRejection::Deleted => "deleted",
        KeyRejection::Expired => "expired",
        KeyRejection::ProjectDeleted => "project_deleted",
        KeyRejection::CreatorNotMember => "creator_left",
        KeyRejection::CreatorDeleted => "creator_deleted",
        KeyRejection::SecretRotated => "rotated",
    }
}

fn explain(
    projections: &Projections,
    key_id: KeyId,
    key: &KeyView,
    now: Timestamp,
) -> KeyPermissions {
    let keys: &Keys = &projections.keys;
    let owner_role = (keys.members.get(&key.project_id))
        .and_then(|members| members.get(&key.owner))
        .copied();
    let (effective, blocked) = match keys.check_id(key_id, now) {
        Ok(valid) => (valid.permissions, None),
        Err(rejection) => (Permissions::NONE, Some(rejection_reason(rejection))),
    };
    let missing = (key.scopes.iter())
        .filter_map(|scope| match blocked {
            Some(reason) => Some(Shortfall {
                scope: *scope,
                reason,
            }),
            None => (!scope.permissions().is_subset_of(effective)).then_some(Shortfall {
                scope: *scope,
                reason: "creator_role",
            }),
        })
        .collect();
    KeyPermissions {
        key_id,
        project_id: key.project_id,
        scopes: key.scopes.clone(),
        creator: key.created_by,
        creator_email: projections.membership.person(key.created_by).email,
        owner: key.owner,
        owner_email: projections.membership.person(key.owner).email,
        owner_role,
        effective,
        missing,
    }
}

impl Steward {
    /// What a key of the project may do and why not more, for a viewer who may see the key
    /// (ended keys too: they are the ones asked about).
    pub fn key_permissions(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        key_id: KeyId,
    ) -> Result<KeyPermissions, ReadError> {
        let now = self.now();
        self.read(|projections| {
            let access = viewer.access(projections, project_id)?;
            access.require(Permission::KeysRead)?;
            let key = (projections.keys.keys.get(&key_id))
                .filter(|key| key.project_id == project_id && access.sees_key_of(key.owner))
                .ok_or(ReadError::NotFound("API key"))?;
            Ok(explain(projections, key_id, key, now))
        })
    }

    /// The same for the key whose secret hashes to `secret_hash`, working or not: what its
    /// holder may learn of it. `None` for a secret of no key. Of a key that no longer works
    /// the holder learns why, not whose it was: an old leaked secret names nobody.
    pub fn own_key_permissions(&self, secret_hash: &Sha256Digest) -> Option<KeyPermissions> {
        let key_id = self.read(|projections| projections.keys.id_of_secret(secret_hash))?;
        let mut key = self.held_key_permissions(key_id)?;
        let works = !(key.missing.iter()).any(|shortfall| shortfall.reason != "creator_role");
        if !works {
            key.creator_email = String::new();
            key.owner_email = String::new();
        }
        Some(key)
    }

    /// The same for a key the caller holds (its secret, or a grant checked to be of it).
    pub fn held_key_permissions(&self, key_id: KeyId) -> Option<KeyPermissions> {
        let now = self.now();
        self.read(|projections| {
            let key = projections.keys.keys.get(&key_id)?;
            Some(explain(projections, key_id, key, now))
        })
    }
}
