//! Key validity: lookup by secret hash in O(1), and whether a key may act at a given instant.
//!
//! A key is valid iff it is not deleted, not expired at the instant asked, its project is live,
//! its creator is still a member of that project and the creator's account is not deleted. What
//! it may do is its scopes ∩ its creator's current role.

use crate::Projection;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use steward_events::{
    AccountId, Envelope, Event, KeyId, Permissions, ProjectId, Role, Scope, Sha256Digest, Tag,
    Timestamp,
};

#[derive(Clone, Debug, Serialize)]
pub struct KeyView {
    pub project_id: ProjectId,
    pub created_by: AccountId,
    pub comment: String,
    pub scopes: Vec<Scope>,
    pub tags: Vec<Tag>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    /// The union of `scopes`, kept for the hot path.
    #[serde(skip)]
    pub scope_permissions: Permissions,
}

/// A key that may act, and what it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidKey {
    pub key_id: KeyId,
    pub project_id: ProjectId,
    pub account_id: AccountId,
    pub role: Role,
    /// The key's scopes ∩ its creator's current role.
    pub permissions: Permissions,
}

/// Why a key may not act.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRejection {
    Unknown,
    Deleted,
    Expired,
    ProjectDeleted,
    CreatorNotMember,
    CreatorDeleted,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Keys {
    pub keys: BTreeMap<KeyId, KeyView>,
    /// Each project's members and roles, as far as keys care.
    pub members: BTreeMap<ProjectId, BTreeMap<AccountId, Role>>,
    pub deleted_accounts: BTreeSet<AccountId>,
    pub deleted_projects: BTreeSet<ProjectId>,
    #[serde(skip)]
    by_secret_hash: HashMap<Sha256Digest, KeyId>,
}

impl Keys {
    /// The key whose secret hashes to `secret_hash`, if it may act at `now`.
    ///
    /// The lookup is by the SHA-256 of the presented secret, so how long it takes tells an
    /// attacker nothing about any stored secret.
    pub fn check(
        &self,
        secret_hash: &Sha256Digest,
        now: Timestamp,
    ) -> Result<ValidKey, KeyRejection> {
        let key_id = *self
            .by_secret_hash
            .get(secret_hash)
            .ok_or(KeyRejection::Unknown)?;
        self.check_id(key_id, now)
    }

    /// Whether the key `key_id` may act at `now`.
    pub fn check_id(&self, key_id: KeyId, now: Timestamp) -> Result<ValidKey, KeyRejection> {
        let key = self.keys.get(&key_id).ok_or(KeyRejection::Unknown)?;
        if key.deleted_at.is_some() {
            return Err(KeyRejection::Deleted);
        }
        if key.expires_at.is_some_and(|expires_at| expires_at <= now) {
            return Err(KeyRejection::Expired);
        }
        if self.deleted_projects.contains(&key.project_id) {
            return Err(KeyRejection::ProjectDeleted);
        }
        if self.deleted_accounts.contains(&key.created_by) {
            return Err(KeyRejection::CreatorDeleted);
        }
        let role = self
            .members
            .get(&key.project_id)
            .and_then(|members| members.get(&key.created_by))
            .copied()
            .ok_or(KeyRejection::CreatorNotMember)?;
        Ok(ValidKey {
            key_id,
            project_id: key.project_id,
            account_id: key.created_by,
            role,
            permissions: key.scope_permissions.intersection(role.permissions()),
        })
    }

    /// The keys of a project, in id order (ids are UUID v7, so oldest first).
    pub fn of_project(&self, project_id: ProjectId) -> impl Iterator<Item = (&KeyId, &KeyView)> {
        self.keys
            .iter()
            .filter(move |(_, key)| key.project_id == project_id)
    }

    fn set_role(&mut self, project_id: ProjectId, account_id: AccountId, role: Option<Role>) {
        let members = self.members.entry(project_id).or_default();
        match role {
            Some(role) => members.insert(account_id, role),
            None => members.remove(&account_id),
        };
    }
}

impl Projection for Keys {
    const NAME: &'static str = "keys";

    fn apply(&mut self, envelope: &Envelope) {
        match &envelope.event {
            Event::ApiKeyCreated {
                project_id,
                key_id,
                created_by,
                comment,
                scopes,
                tags,
                expires_at,
                secret_hash,
            } => {
                self.by_secret_hash.insert(*secret_hash, *key_id);
                self.keys.insert(
                    *key_id,
                    KeyView {
                        project_id: *project_id,
                        created_by: *created_by,
                        comment: comment.clone(),
                        scopes: scopes.clone(),
                        tags: tags.clone(),
                        created_at: envelope.recorded_at,
                        expires_at: *expires_at,
                        deleted_at: None,
                        scope_permissions: Scope::union_of(scopes),
                    },
                );
            }
            Event::ApiKeyDeleted { key_id, .. } => {
                if let Some(key) = self.keys.get_mut(key_id) {
                    key.deleted_at = Some(envelope.recorded_at);
                }
            }
            Event::MemberJoined {
                project_id,
                account_id,
                role,
            }
            | Event::RoleChanged {
                project_id,
                account_id,
                to: role,
                ..
            } => self.set_role(*project_id, *account_id, Some(*role)),
            Event::MemberRemoved {
                project_id,
                account_id,
                ..
            }
            | Event::MemberLeft {
                project_id,
                account_id,
            } => self.set_role(*project_id, *account_id, None),
            Event::AccountDeleted { account_id } => {
                self.deleted_accounts.insert(*account_id);
            }
            Event::ProjectDeleted { project_id } => {
                self.deleted_projects.insert(*project_id);
            }
            Event::AccountRegistered { .. }
            | Event::ProjectCreated { .. }
            | Event::ProjectRenamed { .. }
            | Event::ProjectCompanyChanged { .. }
            | Event::MemberInvited { .. }
            | Event::InvitationResent { .. }
            | Event::InvitationRevoked { .. }
            | Event::InvitationAccepted { .. }
            | Event::CreditsGranted { .. }
            | Event::CreditsTransferredOut { .. }
            | Event::CreditsTransferredIn { .. }
            | Event::CreditsConsumed { .. }
            | Event::CreditsExpired { .. }
            | Event::UsageRecorded { .. } => {}
        }
    }
}
