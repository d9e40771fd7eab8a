//! Invitations: sending, resending, revoking, accepting.

use crate::domain::{testing::*, *};

#[test]
fn an_owner_invites_an_admin() {
    given(fruit_company())
        .when(person(OWNER), invite("nina@fruit.example", Role::Admin))
        .then(vec![invited("nina@fruit.example", Role::Admin, 9, days(7))]);
}

#[test]
fn nobody_invites_into_a_role_above_their_own() {
    given(fruit_company())
        .when(person(ADMIN), invite("nina@fruit.example", Role::Owner))
        .then_err(DomainError::InsufficientPermissions);
    given(fruit_company())
        .when(person(MEMBER), invite("nina@fruit.example", Role::Member))
        .then_err(DomainError::InsufficientPermissions);
}

#[test]
fn an_existing_member_is_not_invited_again() {
    given(fruit_company())
        .when(person(OWNER), invite("MIA@fruit.example", Role::Admin))
        .then_err(DomainError::AlreadyMember);
}

#[test]
fn a_pending_invitation_is_resent_not_sent_twice() {
    let history = with(
        fruit_company(),
        [invited("nina@fruit.example", Role::Member, 5, days(7))],
    );
    given(history.clone())
        .when(person(OWNER), invite("nina@fruit.example", Role::Member))
        .then_err(DomainError::AlreadyInvited);
    let mut reinvite = invite("nina@fruit.example", Role::Member);
    if let Command::InviteMember { expires_at, .. } = &mut reinvite {
        *expires_at = days(15);
    }
    given(history.clone())
        .at(days(8))
        .when(person(OWNER), reinvite)
        .then(vec![invited(
            "nina@fruit.example",
            Role::Member,
            9,
            days(15),
        )]);
    given(history)
        .at(days(1))
        .when(
            person(ADMIN),
            Command::ResendInvitation {
                project_id: project(FRUIT),
                email: email("nina@fruit.example"),
                token_hash: digest(6),
                expires_at: days(8),
            },
        )
        .then(vec![Event::InvitationResent {
            project_id: project(FRUIT),
            email: email("nina@fruit.example"),
            token_hash: digest(6),
            expires_at: days(8),
        }]);
}

#[test]
fn an_invitation_is_accepted_with_the_invited_address_in_any_case() {
    given(with(
        fruit_company(),
        [
            registered(9, "Nina@Fruit.Example"),
            invited("nina@fruit.example", Role::Admin, 5, days(7)),
        ],
    ))
    .at(days(6))
    .when(
        person(9),
        Command::AcceptInvitation {
            token_hash: digest(5),
        },
    )
    .then(vec![
        Event::InvitationAccepted {
            project_id: project(FRUIT),
            email: email("nina@fruit.example"),
            account_id: account(9),
        },
        joined(FRUIT, 9, Role::Admin),
    ]);
}

#[test]
fn an_invitation_is_not_accepted_by_another_address() {
    given(with(
        fruit_company(),
        [invited("nina@fruit.example", Role::Admin, 5, days(7))],
    ))
    .when(
        person(OUTSIDER),
        Command::AcceptInvitation {
            token_hash: digest(5),
        },
    )
    .then_err(DomainError::InvitationEmailMismatch);
}

#[test]
fn an_expired_invitation_is_not_accepted() {
    given(with(
        fruit_company(),
        [
            registered(9, "nina@fruit.example"),
            invited("nina@fruit.example", Role::Admin, 5, days(7)),
        ],
    ))
    .at(days(7))
    .when(
        person(9),
        Command::AcceptInvitation {
            token_hash: digest(5),
        },
    )
    .then_err(DomainError::InvitationExpired);
}

#[test]
fn a_resent_invitation_kills_the_old_token_and_a_revoked_one_kills_all() {
    let history = with(
        fruit_company(),
        [
            registered(9, "nina@fruit.example"),
            invited("nina@fruit.example", Role::Admin, 5, days(7)),
            Event::InvitationResent {
                project_id: project(FRUIT),
                email: email("nina@fruit.example"),
                token_hash: digest(6),
                expires_at: days(8),
            },
        ],
    );
    let accept = |token| Command::AcceptInvitation {
        token_hash: digest(token),
    };
    given(history.clone())
        .when(person(9), accept(5))
        .then_err(DomainError::InvitationNotFound);
    assert_eq!(
        given(history.clone())
            .when(person(9), accept(6))
            .events()
            .len(),
        2
    );
    let revoked = with(
        history,
        [Event::InvitationRevoked {
            project_id: project(FRUIT),
            email: email("nina@fruit.example"),
        }],
    );
    given(revoked)
        .when(person(9), accept(6))
        .then_err(DomainError::InvitationNotFound);
}

#[test]
fn a_member_cannot_revoke_an_invitation() {
    given(with(
        fruit_company(),
        [invited("nina@fruit.example", Role::Member, 5, days(7))],
    ))
    .when(
        person(MEMBER),
        Command::RevokeInvitation {
            project_id: project(FRUIT),
            email: email("nina@fruit.example"),
        },
    )
    .then_err(DomainError::InsufficientPermissions);
}

#[test]
fn a_project_has_at_most_its_pending_invitations_and_expired_ones_do_not_count() {
    let mut history = fruit_company();
    for n in 0..crate::limits::INVITATIONS_PER_PROJECT_MAX {
        history.push(invited(
            &format!("guest{n}@fruit.example"),
            Role::Member,
            1,
            days(7),
        ));
    }
    given(history.clone())
        .when(
            person(OWNER),
            invite("one.more@fruit.example", Role::Member),
        )
        .then_err(DomainError::TooManyInvitations);
    given(history)
        .at(days(8))
        .when(
            person(OWNER),
            Command::InviteMember {
                project_id: project(FRUIT),
                email: email("one.more@fruit.example"),
                role: Role::Member,
                token_hash: digest(9),
                expires_at: days(15),
            },
        )
        .events();
}

#[test]
fn an_account_belongs_to_at_most_its_projects() {
    let mut history = fruit_company();
    for n in 0..crate::limits::PROJECTS_PER_ACCOUNT_MAX as u128 - 1 {
        history.extend(created(100 + n, MEMBER));
    }
    given(history)
        .when(
            person(MEMBER),
            Command::CreateProject {
                project_id: project(99),
                name: "one too many".into(),
            },
        )
        .then_err(DomainError::TooManyProjects);
}
