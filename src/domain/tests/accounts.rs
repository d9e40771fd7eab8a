//! Signup and accounts.

use crate::domain::{testing::*, *};

#[test]
fn signup_creates_the_account_its_project_and_promotional_credit_expiring_a_year_later() {
    given([])
        .when(
            Actor::System,
            Command::RegisterAccount(Registration {
                account_id: account(OWNER),
                email: email("Olive@Fruit.example"),
                first_name: "Olive".into(),
                last_name: "Grove".into(),
                password_hash: None,
                project_id: project(FRUIT),
                project_name: "Olive's project".into(),
                promotional_credit: Some((grant(1), usd(200))),
            }),
        )
        .then(vec![
            Event::AccountRegistered {
                account_id: account(OWNER),
                email: email("olive@fruit.example"),
                first_name: "Olive".into(),
                last_name: "Grove".into(),
                password_hash: None,
            },
            Event::ProjectCreated {
                project_id: project(FRUIT),
                name: "Olive's project".into(),
                created_by: account(OWNER),
            },
            joined(FRUIT, OWNER, Role::Owner),
            Event::CreditsGranted {
                project_id: project(FRUIT),
                grant_id: grant(1),
                source: CreditSource::Promotional,
                amount: usd(200),
                expires_at: Some(Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").unwrap()),
                reference: Some("signup".into()),
            },
        ]);
}

#[test]
fn signup_with_a_taken_email_in_any_case_is_refused() {
    given(fruit_company())
        .when(
            Actor::System,
            Command::RegisterAccount(Registration {
                account_id: account(9),
                email: email("OLIVE@fruit.example"),
                first_name: "".into(),
                last_name: "".into(),
                password_hash: None,
                project_id: project(9),
                project_name: "Again".into(),
                promotional_credit: None,
            }),
        )
        .then_err(DomainError::EmailTaken);
}

#[test]
fn a_deleted_account_leaves_shared_projects_and_its_solo_projects_are_deleted() {
    given(with(fruit_company(), created(OTHER, MEMBER)))
        .when(
            person(MEMBER),
            Command::DeleteAccount {
                account_id: account(MEMBER),
            },
        )
        .then(vec![
            Event::MemberRemoved {
                project_id: project(FRUIT),
                account_id: account(MEMBER),
                reason: RemovalReason::AccountDeleted,
            },
            Event::ProjectDeleted {
                project_id: project(OTHER),
            },
            Event::AccountDeleted {
                account_id: account(MEMBER),
            },
        ]);
}

#[test]
fn the_sole_owner_of_a_shared_project_cannot_delete_their_account() {
    given(fruit_company())
        .when(
            person(OWNER),
            Command::DeleteAccount {
                account_id: account(OWNER),
            },
        )
        .then_err(DomainError::SoleOwner);
}

#[test]
fn nobody_deletes_another_persons_account() {
    given(fruit_company())
        .when(
            person(OWNER),
            Command::DeleteAccount {
                account_id: account(MEMBER),
            },
        )
        .then_err(DomainError::InsufficientPermissions);
}
