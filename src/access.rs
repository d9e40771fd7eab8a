//! Who is asking and what they may see: the authenticated caller (`Principal`) and what it may
//! do in a project (`ProjectAccess`). Every face (the JSON API, the console) asks here, so read
//! permissions are decided in one place.

use steward_events::{AccountId, Actor, Permission, Permissions, ProjectId, Role};
use steward_projections::{keys::ValidKey, Projections};

/// Why a caller may not read or act in a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The project does not exist or the caller does not belong to it (the two look alike).
    #[error("project not found")]
    ProjectNotFound,
    /// The caller belongs to the project but lacks the permission.
    #[error("insufficient permissions")]
    InsufficientPermissions,
}

/// The caller, authenticated.
#[derive(Clone, Copy, Debug)]
pub enum Principal {
    /// An API key that may act now; it acts as its creator within its own project only.
    Key(ValidKey),
    /// A person, through a session.
    Account(AccountId),
    /// The support and billing side.
    Operator,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        match *self {
            Principal::Key(key) => Actor::Key {
                key_id: key.key_id,
                account_id: key.account_id,
            },
            Principal::Account(account_id) => Actor::Account(account_id),
            Principal::Operator => Actor::Operator,
        }
    }

    /// The person acting, if any (a key acts as its creator).
    pub fn account_id(&self) -> Option<AccountId> {
        match *self {
            Principal::Key(key) => Some(key.account_id),
            Principal::Account(account_id) => Some(account_id),
            Principal::Operator => None,
        }
    }

    /// What the caller may do in `project_id`. A project the caller cannot see is not found.
    pub fn access(
        &self,
        projections: &Projections,
        project_id: ProjectId,
    ) -> Result<ProjectAccess, AccessError> {
        projections
            .membership
            .project(project_id)
            .ok_or(AccessError::ProjectNotFound)?;
        let (role, permissions) = match *self {
            Principal::Key(key) if key.project_id == project_id => (key.role, key.permissions),
            Principal::Key(_) => return Err(AccessError::ProjectNotFound),
            Principal::Account(account_id) => {
                let role = projections
                    .membership
                    .role(project_id, account_id)
                    .ok_or(AccessError::ProjectNotFound)?;
                (role, role.permissions())
            }
            Principal::Operator => (Role::Owner, Role::Owner.permissions()),
        };
        Ok(ProjectAccess {
            project_id,
            account_id: self.account_id(),
            role,
            permissions,
        })
    }
}

/// What a caller may do in one project.
#[derive(Clone, Copy, Debug)]
pub struct ProjectAccess {
    pub project_id: ProjectId,
    pub account_id: Option<AccountId>,
    pub role: Role,
    pub permissions: Permissions,
}

impl ProjectAccess {
    pub fn require(&self, permission: Permission) -> Result<(), AccessError> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(AccessError::InsufficientPermissions)
        }
    }

    pub fn may(&self, permission: Permission) -> bool {
        self.permissions.contains(permission)
    }

    /// Whether the caller sees the keys `creator` made: everyone's for those who may read
    /// members, admins and owners; otherwise only their own.
    pub fn sees_key_of(&self, creator: AccountId) -> bool {
        let sees_all = [
            Permission::MembersRead,
            Permission::AdminsRead,
            Permission::OwnersRead,
        ]
        .into_iter()
        .all(|permission| self.may(permission));
        sees_all || self.account_id == Some(creator)
    }
}
