//! API keys: creating, scopes, deleting, dying with their creator.

use crate::domain::{testing::*, *};

#[test]
fn a_member_creates_a_key_with_a_role_no_greater_than_their_own() {
    given(fruit_company())
        .when(person(MEMBER), create_key(1, &["member"]))
        .then(vec![key_created(FRUIT, MEMBER, 1, &["member"], &[])]);
    given(fruit_company())
        .when(person(MEMBER), create_key(1, &["admin"]))
        .then_err(DomainError::ScopeBeyondOwn);
    given(fruit_company())
        .when(person(MEMBER), create_key(1, &["billing:read"]))
        .then_err(DomainError::ScopeBeyondOwn);
}

#[test]
fn a_key_made_with_a_key_holds_at_most_that_keys_scopes() {
    let history = with(
        fruit_company(),
        [key_created(
            FRUIT,
            OWNER,
            1,
            &["keys:write", "usage:read"],
            &[],
        )],
    );
    given(history.clone())
        .when(key_of(OWNER, 1), create_key(2, &["usage:read"]))
        .then(vec![key_created(FRUIT, OWNER, 2, &["usage:read"], &[])]);
    given(history)
        .when(key_of(OWNER, 1), create_key(2, &["usage:write"]))
        .then_err(DomainError::ScopeBeyondOwn);
}

#[test]
fn a_key_needs_at_least_one_scope_and_a_future_expiry() {
    given(fruit_company())
        .when(person(OWNER), create_key(1, &[]))
        .then_err(DomainError::InvalidScopes);
    let mut expired = create_key(1, &["member"]);
    if let Command::CreateKey(NewKey { expires_at, .. }) = &mut expired {
        *expires_at = Some(start());
    }
    given(fruit_company())
        .when(person(OWNER), expired)
        .then_err(DomainError::ExpiryInPast);
}

#[test]
fn removing_a_member_disables_the_keys_they_created() {
    given(with(
        fruit_company(),
        [
            key_created(FRUIT, MEMBER, 1, &["member"], &[]),
            Event::MemberRemoved {
                project_id: project(FRUIT),
                account_id: account(MEMBER),
                reason: RemovalReason::Kicked,
            },
        ],
    ))
    .when(key_of(MEMBER, 1), create_key(2, &["usage:read"]))
    .then_err(DomainError::InvalidCredentials);
}

#[test]
fn deleting_an_account_disables_its_keys() {
    given(with(
        fruit_company(),
        [
            key_created(FRUIT, MEMBER, 1, &["member"], &[]),
            Event::AccountDeleted {
                account_id: account(MEMBER),
            },
        ],
    ))
    .when(key_of(MEMBER, 1), usage(1, usd(0), 200, &[]))
    .then_err(DomainError::InvalidCredentials);
}

#[test]
fn a_demoted_creators_key_loses_what_the_creator_lost() {
    given(with(
        fruit_company(),
        [
            key_created(FRUIT, ADMIN, 1, &["admin"], &[]),
            Event::RoleChanged {
                project_id: project(FRUIT),
                account_id: account(ADMIN),
                from: Role::Admin,
                to: Role::Member,
            },
        ],
    ))
    .when(key_of(ADMIN, 1), invite("nina@fruit.example", Role::Member))
    .then_err(DomainError::InsufficientPermissions);
}

#[test]
fn an_expired_or_deleted_key_is_refused() {
    let mut expiring = key_created(FRUIT, OWNER, 1, &["owner"], &[]);
    if let Event::ApiKeyCreated { expires_at, .. } = &mut expiring {
        *expires_at = Some(days(1));
    }
    given(with(fruit_company(), [expiring]))
        .at(days(1))
        .when(key_of(OWNER, 1), create_key(2, &["member"]))
        .then_err(DomainError::InvalidCredentials);
    given(with(
        fruit_company(),
        [
            key_created(FRUIT, OWNER, 1, &["owner"], &[]),
            Event::ApiKeyDeleted {
                project_id: project(FRUIT),
                key_id: key(1),
            },
        ],
    ))
    .when(key_of(OWNER, 1), create_key(2, &["member"]))
    .then_err(DomainError::InvalidCredentials);
}

#[test]
fn a_key_is_useless_outside_its_project() {
    let mut history = with(fruit_company(), created(OTHER, OWNER));
    history.push(key_created(OTHER, OWNER, 1, &["owner"], &[]));
    given(history)
        .when(key_of(OWNER, 1), create_key(2, &["member"]))
        .then_err(DomainError::ProjectNotFound);
}

#[test]
fn a_creator_who_rejoins_does_not_revive_their_old_keys() {
    given(with(
        fruit_company(),
        [
            key_created(FRUIT, MEMBER, 1, &["member"], &[]),
            Event::MemberLeft {
                project_id: project(FRUIT),
                account_id: account(MEMBER),
            },
            joined(FRUIT, MEMBER, Role::Member),
        ],
    ))
    .when(key_of(MEMBER, 1), create_key(2, &["usage:read"]))
    .then_err(DomainError::InvalidCredentials);
}

#[test]
fn a_member_deletes_their_own_keys_but_not_another_members() {
    let history = with(
        fruit_company(),
        [
            key_created(FRUIT, MEMBER, 1, &["member"], &[]),
            key_created(FRUIT, OWNER, 2, &["member"], &[]),
        ],
    );
    let delete = |n| Command::DeleteKey {
        project_id: project(FRUIT),
        key_id: key(n),
    };
    given(history.clone())
        .when(person(MEMBER), delete(1))
        .then(vec![Event::ApiKeyDeleted {
            project_id: project(FRUIT),
            key_id: key(1),
        }]);
    given(history.clone())
        .when(person(MEMBER), delete(2))
        .then_err(DomainError::InsufficientPermissions);
    given(history)
        .when(person(ADMIN), delete(2))
        .then(vec![Event::ApiKeyDeleted {
            project_id: project(FRUIT),
            key_id: key(2),
        }]);
}

#[test]
fn a_deleted_key_is_not_deleted_twice() {
    let history = with(
        fruit_company(),
        [
            key_created(FRUIT, MEMBER, 1, &["member"], &[]),
            Event::ApiKeyDeleted {
                project_id: project(FRUIT),
                key_id: key(1),
            },
        ],
    );
    given(history)
        .when(
            person(OWNER),
            Command::DeleteKey {
                project_id: project(FRUIT),
                key_id: key(1),
            },
        )
        .then_err(DomainError::KeyNotFound);
}

#[test]
fn a_project_holds_at_most_its_live_keys() {
    let mut history = fruit_company();
    for n in 0..crate::limits::KEYS_PER_PROJECT_MAX as u128 {
        history.push(key_created(FRUIT, OWNER, 100 + n, &["member"], &[]));
    }
    given(history.clone())
        .when(person(OWNER), create_key(1, &["member"]))
        .then_err(DomainError::TooManyKeys);
    // A deleted key makes room.
    history.push(Event::ApiKeyDeleted {
        project_id: project(FRUIT),
        key_id: key(100),
    });
    given(history)
        .when(person(OWNER), create_key(1, &["member"]))
        .events();
}
