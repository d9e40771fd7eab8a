//! The offboarding dry run: which keys would stop working if a member were removed, with what
//! each did in the last 30 days, and whether the member is the project's only owner (whom
//! removal refuses). Asked by whoever may remove that member, with the same rule as `decide`.

use super::ReadError;
use crate::{
    access::{AccessError, Principal},
    domain::may_remove,
    Steward,
};
use std::collections::BTreeSet;
use steward_events::{AccountId, KeyId, Permission, ProjectId, Role, Tag, Timestamp};
use steward_projections::usage::{Cell, Day};

/// The days of use shown per key: the 30 UTC days ending today, today included.
pub const OFFBOARDING_USAGE_DAYS: i64 = 30;

/// A key that dies with the membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DyingKey {
    pub key_id: KeyId,
    pub comment: String,
    pub tags: Vec<Tag>,
    /// Its requests over the last `OFFBOARDING_USAGE_DAYS` days.
    pub recent: Cell,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offboarding {
    pub member_id: AccountId,
    pub email: String,
    pub role: Role,
    /// The member's live keys in the project, in id order.
    pub keys: Vec<DyingKey>,
    /// Removal would be refused: the project needs an owner.
    pub sole_owner: bool,
}

impl Steward {
    /// What removing `member_id` from `project_id` would end, as seen at `now`.
    pub fn offboarding(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        member_id: AccountId,
        now: Timestamp,
    ) -> Result<Offboarding, ReadError> {
        self.read(|projections| {
            let access = viewer.access(projections, project_id)?;
            // Before looking the member up: who may remove nobody learns nothing of members.
            access.require(Permission::MembersWriteKick)?;
            let project = (projections.membership.project(project_id))
                .ok_or(ReadError::Access(AccessError::ProjectNotFound))?;
            let role = *project
                .members
                .get(&member_id)
                .ok_or(ReadError::NotFound("Member"))?;
            if !may_remove(access.permissions, role) {
                return Err(AccessError::InsufficientPermissions.into());
            }
            let live: Vec<_> = (projections.keys.live_of_project(project_id))
                .filter(|(_, key)| key.owner == member_id)
                .collect();
            let ids: BTreeSet<KeyId> = live.iter().map(|(key_id, _)| *key_id).collect();
            let today = Day::of(now);
            let from = Day(today.0 - (OFFBOARDING_USAGE_DAYS - 1));
            let recent = (projections.usage.project(project_id))
                .map(|usage| usage.by_key(from, today.next(), &ids))
                .unwrap_or_default();
            let owners = (project.members.values())
                .filter(|role| **role == Role::Owner)
                .count();
            Ok(Offboarding {
                member_id,
                email: projections.membership.person(member_id).email,
                role,
                keys: live
                    .into_iter()
                    .map(|(key_id, key)| DyingKey {
                        key_id,
                        comment: key.comment.clone(),
                        tags: key.tags.clone(),
                        recent: recent.get(&key_id).cloned().unwrap_or_default(),
                    })
                    .collect(),
                sole_owner: role == Role::Owner && owners == 1,
            })
        })
    }
}
