//! The permission rules `decide` applies, as predicates over what the actor may do, so that a
//! face (the console) offers exactly what `decide` would allow. Each is called by `decide`
//! itself; refusing is `DomainError::InsufficientPermissions`.

use steward_events::{AccountId, Permission, Permissions, Role};

/// Deleting or rotating a key acting as `owner`: one's own with keys:write; another member's
/// also takes members:write.
pub fn may_delete_key(
    permissions: Permissions,
    actor: Option<AccountId>,
    owner: AccountId,
) -> bool {
    permissions.contains(Permission::KeysWrite)
        && (actor == Some(owner) || permissions.contains(Permission::MembersWrite))
}

/// Handing a key from a member holding `from` to one holding `to`: managing both members' keys
/// (owners anyone's; admins those of members and admins).
pub fn may_hand_over_key(permissions: Permissions, from: Role, to: Role) -> bool {
    permissions.contains(Permission::KeysWrite)
        && permissions.contains(Permission::MembersWrite)
        && permissions.contains(from.write_permission())
        && permissions.contains(to.write_permission())
}

/// Inviting someone into `role` (or resending or revoking such an invitation). Only roles at
/// or above `role` hold its invite permission: nobody grants a role above their own.
pub fn may_invite_as(permissions: Permissions, role: Role) -> bool {
    permissions.contains(Permission::MembersWriteInvites)
        && permissions.contains(role.invite_permission())
}

/// Changing a member's role `from` one `to` another: the right to change either.
pub fn may_change_role(permissions: Permissions, from: Role, to: Role) -> bool {
    permissions.contains(Permission::MembersWriteScopes)
        && permissions.contains(from.change_permission())
        && permissions.contains(to.change_permission())
}

/// Removing a member who holds `role`.
pub fn may_remove(permissions: Permissions, role: Role) -> bool {
    permissions.contains(Permission::MembersWriteKick)
        && permissions.contains(role.kick_permission())
}
