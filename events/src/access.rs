//! Roles, permissions and key scopes, exactly as Deepgram's Management API v1 names them.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! permissions {
    ($($variant:ident = $name:literal,)*) => {
        /// One project-level permission, such as `keys:write`.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        #[repr(u8)]
        pub enum Permission {
            $($variant,)*
        }

        impl Permission {
            /// Every permission, in the order Deepgram lists them.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            pub const fn name(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name,)*
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Permission::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

permissions! {
    ProjectRead = "project:read",
    ProjectWrite = "project:write",
    ProjectWriteSettings = "project:write:settings",
    ProjectWriteDestroy = "project:write:destroy",
    KeysRead = "keys:read",
    KeysWrite = "keys:write",
    MembersRead = "members:read",
    MembersReadInvites = "members:read:invites",
    MembersReadScopes = "members:read:scopes",
    MembersWrite = "members:write",
    MembersWriteInvites = "members:write:invites",
    MembersWriteScopes = "members:write:scopes",
    MembersWriteKick = "members:write:kick",
    AdminsRead = "admins:read",
    AdminsReadInvites = "admins:read:invites",
    AdminsReadScopes = "admins:read:scopes",
    AdminsWrite = "admins:write",
    AdminsWriteInvites = "admins:write:invites",
    AdminsWriteScopes = "admins:write:scopes",
    AdminsWriteKick = "admins:write:kick",
    OwnersRead = "owners:read",
    OwnersReadInvites = "owners:read:invites",
    OwnersReadScopes = "owners:read:scopes",
    OwnersWrite = "owners:write",
    OwnersWriteInvites = "owners:write:invites",
    OwnersWriteScopes = "owners:write:scopes",
    OwnersWriteKick = "owners:write:kick",
    UsageRead = "usage:read",
    UsageWrite = "usage:write",
    BillingRead = "billing:read",
    BillingWrite = "billing:write",
}

impl fmt::Display for Permission {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A set of permissions, one bit each, so intersection on the key-check path is one `and`.
/// Never stored in events (they store scopes by name); serialized only in checkpoints.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Permissions(u64);

impl Permissions {
    pub const NONE: Self = Self(0);

    pub const fn of(permission: Permission) -> Self {
        Self(1 << permission as u8)
    }

    pub fn from_list(permissions: &[Permission]) -> Self {
        permissions.iter().fold(Self::NONE, |set, &permission| {
            set.union(Self::of(permission))
        })
    }

    pub const fn contains(self, permission: Permission) -> bool {
        self.0 & Self::of(permission).0 != 0
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub const fn is_subset_of(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |&permission| self.contains(permission))
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_set()
            .entries(self.iter().map(Permission::name))
            .finish()
    }
}

/// A member's role in a project. Ordered: `Member < Admin < Owner`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Member, Role::Admin, Role::Owner];

    pub const fn name(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.name() == name)
    }

    /// The permissions the role implies, as `deepgram-v1.md` lists them.
    pub fn permissions(self) -> Permissions {
        use Permission::*;
        match self {
            Role::Owner => Permissions::from_list(Permission::ALL),
            Role::Admin => {
                let withheld = Permissions::from_list(&[
                    ProjectWriteSettings,
                    ProjectWriteDestroy,
                    OwnersWrite,
                    OwnersWriteInvites,
                    OwnersWriteScopes,
                    OwnersWriteKick,
                    BillingWrite,
                ]);
                Permissions(Role::Owner.permissions().0 & !withheld.0)
            }
            Role::Member => Permissions::from_list(&[
                ProjectRead,
                ProjectWrite,
                KeysRead,
                KeysWrite,
                UsageRead,
                UsageWrite,
            ]),
        }
    }

    /// The permission needed to invite someone into this role.
    pub const fn invite_permission(self) -> Permission {
        match self {
            Role::Member => Permission::MembersWriteInvites,
            Role::Admin => Permission::AdminsWriteInvites,
            Role::Owner => Permission::OwnersWriteInvites,
        }
    }

    /// The permission needed to change the role of someone who holds, or will hold, this role.
    pub const fn change_permission(self) -> Permission {
        match self {
            Role::Member => Permission::MembersWriteScopes,
            Role::Admin => Permission::AdminsWriteScopes,
            Role::Owner => Permission::OwnersWriteScopes,
        }
    }

    /// The permission needed to manage what a member who holds this role owns: their keys.
    pub const fn write_permission(self) -> Permission {
        match self {
            Role::Member => Permission::MembersWrite,
            Role::Admin => Permission::AdminsWrite,
            Role::Owner => Permission::OwnersWrite,
        }
    }

    /// The permission needed to remove a member who holds this role.
    pub const fn kick_permission(self) -> Permission {
        match self {
            Role::Member => Permission::MembersWriteKick,
            Role::Admin => Permission::AdminsWriteKick,
            Role::Owner => Permission::OwnersWriteKick,
        }
    }

    /// The permission needed to read the scopes of a member who holds this role.
    pub const fn read_scopes_permission(self) -> Permission {
        match self {
            Role::Member => Permission::MembersReadScopes,
            Role::Admin => Permission::AdminsReadScopes,
            Role::Owner => Permission::OwnersReadScopes,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// What a key may be created with: a role name (`member`) or one granular permission.
///
/// Stored by name, so adding a permission later changes no stored shape.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Scope {
    Role(Role),
    Permission(Permission),
}

impl Scope {
    pub fn parse(name: &str) -> Option<Self> {
        Role::parse(name)
            .map(Scope::Role)
            .or_else(|| Permission::parse(name).map(Scope::Permission))
    }

    pub const fn name(self) -> &'static str {
        match self {
            Scope::Role(role) => role.name(),
            Scope::Permission(permission) => permission.name(),
        }
    }

    pub fn permissions(self) -> Permissions {
        match self {
            Scope::Role(role) => role.permissions(),
            Scope::Permission(permission) => Permissions::of(permission),
        }
    }

    /// The union of what a list of scopes grants.
    pub fn union_of(scopes: &[Scope]) -> Permissions {
        scopes.iter().fold(Permissions::NONE, |set, scope| {
            set.union(scope.permissions())
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Scope::parse(&name).ok_or_else(|| de::Error::custom(format!("unknown scope: {name}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_name_parses_back_to_itself() {
        for &permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.name()), Some(permission));
        }
        assert_eq!(Permission::ALL.len(), 31);
    }

    #[test]
    fn roles_nest_member_within_admin_within_owner() {
        assert!(Role::Member
            .permissions()
            .is_subset_of(Role::Admin.permissions()));
        assert!(Role::Admin
            .permissions()
            .is_subset_of(Role::Owner.permissions()));
        assert!(!Role::Owner
            .permissions()
            .is_subset_of(Role::Admin.permissions()));
        assert_eq!(Role::Admin.permissions().iter().count(), 31 - 7);
        assert_eq!(Role::Member.permissions().iter().count(), 6);
    }

    #[test]
    fn admins_may_not_touch_owners_or_billing_writes() {
        let admin = Role::Admin.permissions();
        assert!(admin.contains(Permission::AdminsWriteKick));
        assert!(admin.contains(Permission::BillingRead));
        assert!(!admin.contains(Permission::OwnersWriteKick));
        assert!(!admin.contains(Permission::BillingWrite));
        assert!(!admin.contains(Permission::ProjectWriteDestroy));
    }

    #[test]
    fn only_roles_at_or_above_a_role_may_grant_it() {
        // `decide` relies on this: holding a role's invite or change permission means holding
        // that role or a higher one, so nobody grants a role above their own.
        for granted in Role::ALL {
            for holder in Role::ALL {
                let permissions = holder.permissions();
                let may_invite = permissions.contains(granted.invite_permission());
                let may_change = permissions.contains(granted.change_permission());
                assert_eq!(may_invite, holder >= granted && holder != Role::Member);
                assert_eq!(may_change, holder >= granted && holder != Role::Member);
            }
        }
    }

    #[test]
    fn scopes_are_role_names_or_permission_names() {
        assert_eq!(Scope::parse("admin"), Some(Scope::Role(Role::Admin)));
        assert_eq!(
            Scope::parse("keys:read"),
            Some(Scope::Permission(Permission::KeysRead))
        );
        assert_eq!(Scope::parse("keys:everything"), None);
    }
}
