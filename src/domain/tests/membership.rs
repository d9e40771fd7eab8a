//! Roles and membership: changing roles, removing members, leaving.

use crate::domain::{testing::*, *};

fn change_role(n: u128, role: Role) -> Command {
    Command::ChangeRole {
        project_id: project(FRUIT),
        account_id: account(n),
        role,
    }
}

#[test]
fn an_owner_promotes_a_member_to_admin() {
    given(fruit_company())
        .when(person(OWNER), change_role(MEMBER, Role::Admin))
        .then(vec![Event::RoleChanged {
            project_id: project(FRUIT),
            account_id: account(MEMBER),
            from: Role::Member,
            to: Role::Admin,
        }]);
}

#[test]
fn an_admin_cannot_make_an_owner_nor_demote_one() {
    given(fruit_company())
        .when(person(ADMIN), change_role(MEMBER, Role::Owner))
        .then_err(DomainError::InsufficientPermissions);
    given(fruit_company())
        .when(person(ADMIN), change_role(OWNER, Role::Member))
        .then_err(DomainError::InsufficientPermissions);
}

#[test]
fn the_sole_owner_is_never_demoted_removed_or_gone() {
    given(fruit_company())
        .when(person(OWNER), change_role(OWNER, Role::Admin))
        .then_err(DomainError::SoleOwner);
    given(fruit_company())
        .when(
            person(OWNER),
            Command::RemoveMember {
                project_id: project(FRUIT),
                account_id: account(OWNER),
                reassign_keys_to: None,
            },
        )
        .then_err(DomainError::SoleOwner);
    given(fruit_company())
        .when(
            person(OWNER),
            Command::LeaveProject {
                project_id: project(FRUIT),
            },
        )
        .then_err(DomainError::SoleOwner);
}

#[test]
fn with_a_second_owner_the_first_may_step_down() {
    given(with(
        fruit_company(),
        [
            registered(9, "nina@fruit.example"),
            joined(FRUIT, 9, Role::Owner),
        ],
    ))
    .when(person(9), change_role(OWNER, Role::Member))
    .then(vec![Event::RoleChanged {
        project_id: project(FRUIT),
        account_id: account(OWNER),
        from: Role::Owner,
        to: Role::Member,
    }]);
}

#[test]
fn an_admin_removes_a_member_but_not_an_owner() {
    let remove = |n| Command::RemoveMember {
        project_id: project(FRUIT),
        account_id: account(n),
        reassign_keys_to: None,
    };
    given(fruit_company())
        .when(person(ADMIN), remove(MEMBER))
        .then(vec![Event::MemberRemoved {
            project_id: project(FRUIT),
            account_id: account(MEMBER),
            reason: RemovalReason::Kicked,
        }]);
    given(fruit_company())
        .when(person(ADMIN), remove(OWNER))
        .then_err(DomainError::InsufficientPermissions);
    given(fruit_company())
        .when(person(ADMIN), remove(OUTSIDER))
        .then_err(DomainError::MemberNotFound);
}

#[test]
fn a_member_leaves_a_project() {
    given(fruit_company())
        .when(
            person(MEMBER),
            Command::LeaveProject {
                project_id: project(FRUIT),
            },
        )
        .then(vec![Event::MemberLeft {
            project_id: project(FRUIT),
            account_id: account(MEMBER),
        }]);
}
