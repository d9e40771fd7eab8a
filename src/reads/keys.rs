//! API keys as each caller may see them: every live key of the project for those who may read
//! members, admins and owners; otherwise only their own.

use super::ReadError;
use crate::{access::Principal, Steward};
use steward_events::{KeyId, Permission, ProjectId, Timestamp};
use steward_projections::{keys::KeyView, membership::Person};

/// Which live keys a list keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// Not expired at the instant asked.
    Active,
    Expired,
}

/// A live key with the person it acts as.
#[derive(Clone, Debug)]
pub struct KeyListing {
    pub key_id: KeyId,
    pub key: KeyView,
    /// The member the key acts as.
    pub owner: Person,
}

impl Steward {
    /// The project's live keys `viewer` may see (of `status` at `now`, if given), in id order.
    pub fn keys(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        status: Option<KeyStatus>,
        now: Timestamp,
    ) -> Result<Vec<KeyListing>, ReadError> {
        self.read(|projections| {
            let access = viewer.access(projections, project_id)?;
            access.require(Permission::KeysRead)?;
            let listing = |(key_id, key): (KeyId, &KeyView)| KeyListing {
                key_id,
                key: key.clone(),
                owner: projections.membership.person(key.owner),
            };
            Ok(projections
                .keys
                .live_of_project(project_id)
                .filter(|(_, key)| access.sees_key_of(key.owner))
                .filter(|(_, key)| {
                    let expired = key.expires_at.is_some_and(|at| at <= now);
                    status.is_none_or(|status| (status == KeyStatus::Expired) == expired)
                })
                .map(listing)
                .collect())
        })
    }

    /// The project's keys that worked at the instant `at` (ended ones too, if they had not
    /// ended then) that `viewer` may see, each with whom it acted as then, in id order.
    pub fn keys_as_of(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        at: Timestamp,
    ) -> Result<Vec<KeyListing>, ReadError> {
        self.read(|projections| {
            let access = viewer.access(projections, project_id)?;
            access.require(Permission::KeysRead)?;
            Ok(projections
                .keys
                .of_project(project_id)
                .filter(|(_, key)| key.valid_at(at) && access.sees_key_of(key.owner_at(at)))
                .map(|(key_id, key)| {
                    let mut key = key.clone();
                    key.owner = key.owner_at(at);
                    KeyListing {
                        key_id,
                        owner: projections.membership.person(key.owner),
                        key,
                    }
                })
                .collect())
        })
    }

    /// One live key of the project, if `viewer` may see it.
    pub fn key(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        key_id: KeyId,
    ) -> Result<KeyListing, ReadError> {
        self.read(|projections| {
            let access = viewer.access(projections, project_id)?;
            access.require(Permission::KeysRead)?;
            let key = projections
                .keys
                .live(project_id, key_id)
                .filter(|key| access.sees_key_of(key.owner))
                .ok_or(ReadError::NotFound("API key"))?;
            Ok(KeyListing {
                key_id,
                key: key.clone(),
                owner: projections.membership.person(key.owner),
            })
        })
    }
}
