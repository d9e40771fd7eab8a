//! Key hand-over and rotation: a key keeps its id when it changes hands or secrets.

use crate::domain::{testing::*, *};

fn hand_over(n: u128, to: u128) -> Command {
    Command::HandOverKey {
        project_id: project(FRUIT),
        key_id: key(n),
        to: account(to),
    }
}

fn handed(n: u128, from: u128, to: u128) -> Event {
    Event::ApiKeyOwnerChanged {
        project_id: project(FRUIT),
        key_id: key(n),
        from: account(from),
        to: account(to),
    }
}

fn remove_reassigning(n: u128, to: u128) -> Command {
    Command::RemoveMember {
        project_id: project(FRUIT),
        account_id: account(n),
        reassign_keys_to: Some(account(to)),
    }
}

fn rotate(n: u128, overlap_seconds: i64) -> Command {
    Command::RotateKey {
        project_id: project(FRUIT),
        key_id: key(n),
        secret_hash: digest(99),
        overlap_seconds,
    }
}

/// The Fruit Company with a key of each member: 1 the owner's, 2 the admin's, 3 the member's.
fn keyed() -> Vec<Event> {
    with(
        fruit_company(),
        [
            key_created(FRUIT, OWNER, 1, &["owner"], &[]),
            key_created(FRUIT, ADMIN, 2, &["admin"], &[]),
            key_created(FRUIT, MEMBER, 3, &["member"], &[]),
        ],
    )
}

#[test]
fn whoever_manages_both_members_keys_hands_a_key_over() {
    given(keyed())
        .when(person(OWNER), hand_over(3, ADMIN))
        .then(vec![handed(3, MEMBER, ADMIN)]);
    given(keyed())
        .when(person(ADMIN), hand_over(3, ADMIN))
        .then(vec![handed(3, MEMBER, ADMIN)]);
    // Admins do not manage owners' keys, neither from nor to an owner.
    given(keyed())
        .when(person(ADMIN), hand_over(1, MEMBER))
        .then_err(DomainError::InsufficientPermissions);
    given(keyed())
        .when(person(ADMIN), hand_over(3, OWNER))
        .then_err(DomainError::InsufficientPermissions);
    // A member manages only their own keys, and a hand-over touches another's.
    given(keyed())
        .when(person(MEMBER), hand_over(3, ADMIN))
        .then_err(DomainError::InsufficientPermissions);
}

#[test]
fn a_key_is_handed_only_to_a_member_and_only_while_it_lives() {
    given(keyed())
        .when(person(OWNER), hand_over(3, OUTSIDER))
        .then_err(DomainError::MemberNotFound);
    given(keyed())
        .when(person(OWNER), hand_over(9, ADMIN))
        .then_err(DomainError::KeyNotFound);
    given(with(
        keyed(),
        [Event::ApiKeyDeleted {
            project_id: project(FRUIT),
            key_id: key(3),
        }],
    ))
    .when(person(OWNER), hand_over(3, ADMIN))
    .then_err(DomainError::KeyNotFound);
    // Handing a key to whom it already acts as records nothing.
    given(keyed())
        .when(person(OWNER), hand_over(3, MEMBER))
        .then(vec![]);
}

#[test]
fn a_handed_over_key_acts_as_its_new_owner_and_dies_with_them_only() {
    let history = with(keyed(), [handed(3, MEMBER, ADMIN)]);
    // The old owner's removal leaves it working...
    let removed_member = with(
        history.clone(),
        [Event::MemberRemoved {
            project_id: project(FRUIT),
            account_id: account(MEMBER),
            reason: RemovalReason::Kicked,
        }],
    );
    given(removed_member.clone())
        .when(key_of(ADMIN, 3), usage(1, Nanodollars::ZERO, 200, &[]))
        .events();
    // ...its new owner's ends it.
    let removed_admin = with(
        history,
        [Event::MemberRemoved {
            project_id: project(FRUIT),
            account_id: account(ADMIN),
            reason: RemovalReason::Kicked,
        }],
    );
    given(removed_admin)
        .when(key_of(ADMIN, 3), usage(1, Nanodollars::ZERO, 200, &[]))
        .then_err(DomainError::InvalidCredentials);
    // Its scopes are capped by the new owner's role: the member's key handed to the owner
    // still holds only member scopes.
    given(with(keyed(), [handed(3, MEMBER, OWNER)]))
        .when(key_of(OWNER, 3), create_key(7, &["admin"]))
        .then_err(DomainError::ScopeBeyondOwn);
}

#[test]
fn removing_a_member_with_reassignment_hands_every_key_over_first() {
    let history = with(
        keyed(),
        [key_created(FRUIT, MEMBER, 4, &["usage:write"], &[])],
    );
    given(history.clone())
        .when(person(OWNER), remove_reassigning(MEMBER, ADMIN))
        .then(vec![
            handed(3, MEMBER, ADMIN),
            handed(4, MEMBER, ADMIN),
            Event::MemberRemoved {
                project_id: project(FRUIT),
                account_id: account(MEMBER),
                reason: RemovalReason::Kicked,
            },
        ]);
    given(history.clone())
        .when(person(OWNER), remove_reassigning(MEMBER, MEMBER))
        .then_err(DomainError::InvalidReassignment);
    given(history.clone())
        .when(person(OWNER), remove_reassigning(MEMBER, OUTSIDER))
        .then_err(DomainError::MemberNotFound);
    // An admin may remove the member but not hand their keys to the owner.
    given(history)
        .when(person(ADMIN), remove_reassigning(MEMBER, OWNER))
        .then_err(DomainError::InsufficientPermissions);
}

#[test]
fn a_rotation_keeps_the_previous_secret_for_the_overlap() {
    given(keyed())
        .at(days(3))
        .when(person(MEMBER), rotate(3, 3600))
        .then(vec![Event::ApiKeyRotated {
            project_id: project(FRUIT),
            key_id: key(3),
            secret_hash: digest(99),
            previous_secret_expires_at: days(3).plus_seconds(3600),
        }]);
    for overlap in [-1, 7 * DAY_SECONDS + 1] {
        given(keyed())
            .when(person(MEMBER), rotate(3, overlap))
            .then_err(DomainError::InvalidOverlap);
    }
    given(keyed())
        .when(person(MEMBER), rotate(9, 0))
        .then_err(DomainError::KeyNotFound);
}

#[test]
fn a_key_is_rotated_by_whoever_may_delete_it() {
    given(keyed()).when(person(ADMIN), rotate(3, 0)).events();
    given(keyed())
        .when(person(MEMBER), rotate(2, 0))
        .then_err(DomainError::InsufficientPermissions);
}
