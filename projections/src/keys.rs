//! Key validity: lookup by secret hash in O(1), and whether a key may act at a given instant.
//!
//! A key is valid iff it is not deleted, not expired at the instant asked, its project is live,
//! its owner (its creator, or the member it was last handed to) is still a member of that
//! project and the owner's account is not deleted. A key ends for good when its owner leaves or
//! is removed (an account's deletion removes it from every project first), so it stays dead even
//! if the owner rejoins. What it may do is its scopes ∩ its owner's current role.
//!
//! A rotated key has a new secret; the one it replaced works until the rotation's overlap ends,
//! and a secret replaced before that stops at once: a key has at most two secrets.

use crate::Projection;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use steward_events::{
    AccountId, Envelope, Event, KeyId, Permissions, ProjectId, RemovalReason, Role, Scope,
    Sha256Digest, Tag, Timestamp,
};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyView {
    pub project_id: ProjectId,
    pub created_by: AccountId,
    /// The member the key acts as: its creator unless it was handed over.
    pub owner: AccountId,
    pub comment: String,
    pub scopes: Vec<Scope>,
    pub tags: Vec<Tag>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// When and why the key stopped working for good, if it has.
    pub ended: Option<KeyEnding>,
    /// When its secret was last replaced, and until when the replaced one works.
    pub rotated: Option<Rotation>,
    /// Every hand-over, oldest first: when, and to whom.
    pub handovers: Vec<(Timestamp, AccountId)>,
    /// The union of `scopes`, kept for the hot path.
    #[serde(skip)]
    pub scope_permissions: Permissions,
}

impl KeyView {
    /// Whether the key worked at `at`: created, not yet ended, not expired.
    pub fn valid_at(&self, at: Timestamp) -> bool {
        self.created_at <= at
            && self.ended.is_none_or(|ending| at < ending.at)
            && self.expires_at.is_none_or(|expires_at| at < expires_at)
    }

    /// The member the key acted as at `at`.
    pub fn owner_at(&self, at: Timestamp) -> AccountId {
        (self.handovers.iter().rev())
            .find(|(handed_at, _)| *handed_at <= at)
            .map_or(self.created_by, |(_, to)| *to)
    }
}

/// A key's latest rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    pub at: Timestamp,
    pub previous_secret_expires_at: Timestamp,
}

/// A key's secrets, by hash: the current one, and the one its latest rotation replaced with
/// when that stops working.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Secrets {
    current: Sha256Digest,
    previous: Option<(Sha256Digest, Timestamp)>,
}

/// When and why a key stopped working. A key never works again once ended, even if its creator
/// rejoins the project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEnding {
    pub at: Timestamp,
    pub reason: KeyRejection,
}

/// A key that may act, and what it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidKey {
    pub key_id: KeyId,
    pub project_id: ProjectId,
    pub account_id: AccountId,
    pub role: Role,
    /// The key's scopes ∩ its owner's current role.
    pub permissions: Permissions,
}

/// Why a key may not act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRejection {
    Unknown,
    Deleted,
    Expired,
    ProjectDeleted,
    /// Its owner left the project or was removed.
    CreatorNotMember,
    /// Its owner's account was deleted.
    CreatorDeleted,
    /// The secret presented was replaced by a rotation and its overlap has ended.
    SecretRotated,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Keys {
    pub keys: BTreeMap<KeyId, KeyView>,
    /// Each project's members and roles, as far as keys care.
    pub members: BTreeMap<ProjectId, BTreeMap<AccountId, Role>>,
    /// Kept in checkpoints, left out of JSON: it is the key to every secret.
    #[serde(with = "crate::binary_only")]
    by_secret_hash: HashMap<Sha256Digest, KeyId>,
    /// Each key's secrets, as hashes; like `by_secret_hash`, left out of JSON.
    #[serde(with = "crate::binary_only")]
    secrets: HashMap<KeyId, Secrets>,
    /// The live keys acting as each member in each project, to end them when the member goes.
    #[serde(skip)]
    by_owner: HashMap<(ProjectId, AccountId), Vec<KeyId>>,
    /// The keys of each project (ended ones too), in id order, so that listing a project's
    /// keys does not scan every key.
    #[serde(skip)]
    by_project: HashMap<ProjectId, BTreeSet<KeyId>>,
}

impl Keys {
    /// Rebuilds the derived indexes after a checkpoint is loaded.
    pub fn restore(&mut self) {
        self.by_owner.clear();
        self.by_project.clear();
        for (key_id, key) in self.keys.iter_mut() {
            key.scope_permissions = Scope::union_of(&key.scopes);
            self.by_project
                .entry(key.project_id)
                .or_default()
                .insert(*key_id);
            if key.ended.is_none() {
                self.by_owner
                    .entry((key.project_id, key.owner))
                    .or_default()
                    .push(*key_id);
            }
        }
    }

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
        let replaced_and_over = self.secrets.get(&key_id).is_some_and(|secrets| {
            secrets
                .previous
                .is_some_and(|(previous, until)| previous == *secret_hash && until <= now)
        });
        if replaced_and_over {
            return Err(KeyRejection::SecretRotated);
        }
        self.check_id(key_id, now)
    }

    /// The key whose secret hashes to `secret_hash`, whether or not it still works.
    pub fn id_of_secret(&self, secret_hash: &Sha256Digest) -> Option<KeyId> {
        self.by_secret_hash.get(secret_hash).copied()
    }

    /// Whether the key `key_id` may act at `now`.
    pub fn check_id(&self, key_id: KeyId, now: Timestamp) -> Result<ValidKey, KeyRejection> {
        let key = self.keys.get(&key_id).ok_or(KeyRejection::Unknown)?;
        if let Some(ending) = key.ended {
            return Err(ending.reason);
        }
        if key.expires_at.is_some_and(|expires_at| expires_at <= now) {
            return Err(KeyRejection::Expired);
        }
        let role = self
            .members
            .get(&key.project_id)
            .and_then(|members| members.get(&key.owner))
            .copied()
            .expect("a key that has not ended has an owner who is a member");
        Ok(ValidKey {
            key_id,
            project_id: key.project_id,
            account_id: key.owner,
            role,
            permissions: key.scope_permissions.intersection(role.permissions()),
        })
    }

    /// Every key of a project, ended ones too, in id order (ids are UUID v7, so oldest first).
    pub fn of_project(&self, project_id: ProjectId) -> impl Iterator<Item = (KeyId, &KeyView)> {
        self.by_project
            .get(&project_id)
            .into_iter()
            .flatten()
            .map(|key_id| (*key_id, &self.keys[key_id]))
    }

    /// The live (not ended) keys of a project, in id order; an expired key is live until it is
    /// deleted.
    pub fn live_of_project(
        &self,
        project_id: ProjectId,
    ) -> impl Iterator<Item = (KeyId, &KeyView)> {
        self.of_project(project_id)
            .filter(|(_, key)| key.ended.is_none())
    }

    /// A live key of a project.
    pub fn live(&self, project_id: ProjectId, key_id: KeyId) -> Option<&KeyView> {
        self.keys
            .get(&key_id)
            .filter(|key| key.project_id == project_id && key.ended.is_none())
    }

    /// Ends every live key in `key_ids`.
    fn end(&mut self, key_ids: &[KeyId], at: Timestamp, reason: KeyRejection) {
        for key_id in key_ids {
            let key = self.keys.get_mut(key_id).expect("indexed keys exist");
            if key.ended.is_none() {
                key.ended = Some(KeyEnding { at, reason });
            }
        }
    }

    /// A member left or was removed (or their account deleted): their keys there end.
    fn member_gone(
        &mut self,
        project_id: ProjectId,
        account_id: AccountId,
        at: Timestamp,
        reason: KeyRejection,
    ) {
        if let Some(members) = self.members.get_mut(&project_id) {
            members.remove(&account_id);
        }
        let key_ids = self
            .by_owner
            .remove(&(project_id, account_id))
            .unwrap_or_default();
        self.end(&key_ids, at, reason);
    }

    /// The key acts as `to` from `at` on.
    fn hand_over(
        &mut self,
        project_id: ProjectId,
        key_id: KeyId,
        from: AccountId,
        to: AccountId,
        at: Timestamp,
    ) {
        if let Some(key_ids) = self.by_owner.get_mut(&(project_id, from)) {
            key_ids.retain(|owned| *owned != key_id);
        }
        self.by_owner
            .entry((project_id, to))
            .or_default()
            .push(key_id);
        if let Some(key) = self.keys.get_mut(&key_id) {
            key.owner = to;
            key.handovers.push((at, to));
        }
    }

    /// The key's secret is now `secret_hash`; the one it replaces works until `until`, and any
    /// replaced before stops now.
    fn rotate(
        &mut self,
        key_id: KeyId,
        secret_hash: Sha256Digest,
        at: Timestamp,
        until: Timestamp,
    ) {
        let Some(secrets) = self.secrets.get_mut(&key_id) else {
            return;
        };
        if let Some((superseded, _)) = secrets.previous {
            self.by_secret_hash.remove(&superseded);
        }
        secrets.previous = Some((secrets.current, until));
        secrets.current = secret_hash;
        self.by_secret_hash.insert(secret_hash, key_id);
        if let Some(key) = self.keys.get_mut(&key_id) {
            key.rotated = Some(Rotation {
                at,
                previous_secret_expires_at: until,
            });
        }
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
                self.secrets.insert(
                    *key_id,
                    Secrets {
                        current: *secret_hash,
                        previous: None,
                    },
                );
                self.by_owner
                    .entry((*project_id, *created_by))
                    .or_default()
                    .push(*key_id);
                self.by_project
                    .entry(*project_id)
                    .or_default()
                    .insert(*key_id);
                self.keys.insert(
                    *key_id,
                    KeyView {
                        project_id: *project_id,
                        created_by: *created_by,
                        owner: *created_by,
                        comment: comment.clone(),
                        scopes: scopes.clone(),
                        tags: tags.clone(),
                        created_at: envelope.recorded_at,
                        expires_at: *expires_at,
                        ended: None,
                        rotated: None,
                        handovers: Vec::new(),
                        scope_permissions: Scope::union_of(scopes),
                    },
                );
            }
            Event::ApiKeyDeleted { key_id, .. } => {
                self.end(&[*key_id], envelope.recorded_at, KeyRejection::Deleted);
            }
            Event::ApiKeyOwnerChanged {
                project_id,
                key_id,
                from,
                to,
            } => self.hand_over(*project_id, *key_id, *from, *to, envelope.recorded_at),
            Event::ApiKeyRotated {
                key_id,
                secret_hash,
                previous_secret_expires_at,
                ..
            } => self.rotate(
                *key_id,
                *secret_hash,
                envelope.recorded_at,
                *previous_secret_expires_at,
            ),
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
            } => {
                self.members
                    .entry(*project_id)
                    .or_default()
                    .insert(*account_id, *role);
            }
            Event::MemberRemoved {
                project_id,
                account_id,
                reason,
            } => {
                let reason = match reason {
                    RemovalReason::Kicked => KeyRejection::CreatorNotMember,
                    RemovalReason::AccountDeleted => KeyRejection::CreatorDeleted,
                };
                self.member_gone(*project_id, *account_id, envelope.recorded_at, reason);
            }
            Event::MemberLeft {
                project_id,
                account_id,
            } => self.member_gone(
                *project_id,
                *account_id,
                envelope.recorded_at,
                KeyRejection::CreatorNotMember,
            ),
            Event::ProjectDeleted { project_id } => {
                let members: Vec<AccountId> = self
                    .members
                    .remove(project_id)
                    .unwrap_or_default()
                    .into_keys()
                    .collect();
                for account_id in members {
                    let key_ids = self
                        .by_owner
                        .remove(&(*project_id, account_id))
                        .unwrap_or_default();
                    self.end(&key_ids, envelope.recorded_at, KeyRejection::ProjectDeleted);
                }
            }
            Event::AccountRegistered { .. }
            | Event::AccountDeleted { .. }
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
            | Event::UsageRecorded { .. }
            | Event::ModelAccessGranted { .. }
            | Event::ModelAccessRevoked { .. }
            | Event::TagBudgetSet { .. }
            | Event::TagBudgetRemoved { .. }
            | Event::TagBudgetPassed { .. } => {}
        }
    }
}
