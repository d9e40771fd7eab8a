//! Credit: grants, transfers, expiry.

use crate::domain::{testing::*, *};

#[test]
fn only_the_operator_grants_credit_and_expiry_follows_the_source() {
    let grant_command = |source, expires_at| Command::GrantCredits {
        project_id: project(FRUIT),
        grant_id: grant(7),
        source,
        amount: usd(100),
        expires_at,
        reference: Some("PO-1".into()),
    };
    given(fruit_company())
        .when(person(OWNER), grant_command(CreditSource::Card, None))
        .then_err(DomainError::InsufficientPermissions);
    given(fruit_company())
        .when(Actor::Operator, grant_command(CreditSource::Contract, None))
        .then_err(DomainError::InvalidExpiry);
    given(fruit_company())
        .when(
            Actor::Operator,
            grant_command(CreditSource::Card, Some(days(9))),
        )
        .then_err(DomainError::InvalidExpiry);
    given(fruit_company())
        .at(days(9))
        .when(
            Actor::Operator,
            grant_command(CreditSource::Contract, Some(days(9))),
        )
        .then_err(DomainError::ExpiryInPast);
    given(fruit_company())
        .when(
            Actor::Operator,
            grant_command(CreditSource::Contract, Some(days(365))),
        )
        .then(vec![Event::CreditsGranted {
            project_id: project(FRUIT),
            grant_id: grant(7),
            source: CreditSource::Contract,
            amount: usd(100),
            expires_at: Some(days(365)),
            reference: Some("PO-1".into()),
        }]);
}

#[test]
fn zero_negative_and_absurd_amounts_are_refused() {
    for amount in [
        Nanodollars::ZERO,
        Nanodollars::new(-1),
        crate::limits::AMOUNT_MAX + Nanodollars::new(1),
    ] {
        given(fruit_company())
            .when(
                Actor::Operator,
                Command::GrantCredits {
                    project_id: project(FRUIT),
                    grant_id: grant(7),
                    source: CreditSource::Card,
                    amount,
                    expires_at: None,
                    reference: None,
                },
            )
            .then_err(DomainError::InvalidAmount);
    }
}

fn transfer(amount: TransferAmount) -> Command {
    Command::TransferCredits {
        transfer_id: TransferId::from_uuid(uuid(5000)),
        from_project_id: project(FRUIT),
        to_project_id: project(OTHER),
        amount,
    }
}

fn two_projects() -> Vec<Event> {
    with(funded(), created(OTHER, OWNER))
}

#[test]
fn a_transfer_moves_portions_in_spending_order_keeping_their_expiry() {
    let events = given(two_projects())
        .when(Actor::Operator, transfer(TransferAmount::Amount(usd(3))))
        .events();
    let Event::CreditsTransferredIn { portions, .. } = &events[1] else {
        panic!("expected the receiving side, got {events:?}");
    };
    let moved: Vec<(
        GrantId,
        CreditSource,
        Nanodollars,
        Option<Timestamp>,
        Nanodollars,
    )> = portions
        .iter()
        .map(|p| {
            (
                p.from_grant_id,
                p.source,
                p.amount,
                p.expires_at,
                p.from_grant_remaining,
            )
        })
        .collect();
    assert_eq!(
        moved,
        [
            (
                grant(3),
                CreditSource::Promotional,
                usd(2),
                Some(days(30)),
                usd(0)
            ),
            (
                grant(2),
                CreditSource::Contract,
                usd(1),
                Some(days(90)),
                usd(4)
            ),
        ]
    );
    let Event::CreditsTransferredOut {
        portions: out_portions,
        ..
    } = &events[0]
    else {
        panic!("expected the sending side, got {events:?}");
    };
    assert_eq!(out_portions, portions);
    assert_ne!(portions[0].to_grant_id, portions[1].to_grant_id);
}

#[test]
fn a_whole_balance_moves_with_its_expiry() {
    let events = given(two_projects())
        .when(
            person(OWNER),
            transfer(TransferAmount::WholeGrant(grant(2))),
        )
        .events();
    let Event::CreditsTransferredIn { portions, .. } = &events[1] else {
        panic!("expected the receiving side, got {events:?}");
    };
    assert_eq!(portions.len(), 1);
    assert_eq!(
        (portions[0].amount, portions[0].expires_at),
        (usd(5), Some(days(90)))
    );
}

fn moved(events: &[Event]) -> Vec<(GrantId, Nanodollars, Nanodollars)> {
    let Event::CreditsTransferredIn { portions, .. } = &events[1] else {
        panic!("expected the receiving side, got {events:?}");
    };
    portions
        .iter()
        .map(|p| (p.from_grant_id, p.amount, p.from_grant_remaining))
        .collect()
}

#[test]
fn a_persons_transfer_moves_contract_and_card_credit_only() {
    // The promotional grant expires first, so spending order would take it first.
    let events = given(two_projects())
        .when(person(OWNER), transfer(TransferAmount::Amount(usd(6))))
        .events();
    assert_eq!(
        moved(&events),
        [(grant(2), usd(5), usd(0)), (grant(1), usd(1), usd(9))]
    );
}

#[test]
fn only_support_moves_promotional_credit() {
    // Asked by name, or for more than contract and card credit hold.
    given(two_projects())
        .when(
            person(OWNER),
            transfer(TransferAmount::WholeGrant(grant(3))),
        )
        .then_err(DomainError::PromotionalCreditBySupportOnly);
    given(two_projects())
        .when(person(OWNER), transfer(TransferAmount::Amount(usd(16))))
        .then_err(DomainError::PromotionalCreditBySupportOnly);
    // More than all the credit there is: a lack of credit, not of permission.
    given(two_projects())
        .when(person(OWNER), transfer(TransferAmount::Amount(usd(18))))
        .then_err(DomainError::InsufficientCredit);
    // The operator moves it, keeping its expiry.
    let events = given(two_projects())
        .when(
            Actor::Operator,
            transfer(TransferAmount::WholeGrant(grant(3))),
        )
        .events();
    assert_eq!(moved(&events), [(grant(3), usd(2), usd(0))]);
}

#[test]
fn part_of_one_balance_moves_and_no_more_than_it_holds() {
    let events = given(two_projects())
        .when(
            person(OWNER),
            transfer(TransferAmount::PartOfGrant(grant(2), usd(2))),
        )
        .events();
    assert_eq!(moved(&events), [(grant(2), usd(2), usd(3))]);
    given(two_projects())
        .when(
            person(OWNER),
            transfer(TransferAmount::PartOfGrant(grant(2), usd(6))),
        )
        .then_err(DomainError::InsufficientCredit);
    given(two_projects())
        .when(
            person(OWNER),
            transfer(TransferAmount::PartOfGrant(grant(2), usd(0))),
        )
        .then_err(DomainError::InvalidAmount);
}

#[test]
fn a_transfer_beyond_the_usable_balance_is_refused() {
    given(two_projects())
        .at(days(30))
        .when(person(OWNER), transfer(TransferAmount::Amount(usd(16))))
        .then_err(DomainError::InsufficientCredit);
}

#[test]
fn a_transfer_needs_billing_write_in_both_projects_and_no_key() {
    given(with(two_projects(), [joined(OTHER, ADMIN, Role::Owner)]))
        .when(person(ADMIN), transfer(TransferAmount::Amount(usd(1))))
        .then_err(DomainError::InsufficientPermissions);
    let mut not_in_destination = funded();
    not_in_destination.extend(created(OTHER, OUTSIDER));
    given(not_in_destination)
        .when(person(OWNER), transfer(TransferAmount::Amount(usd(1))))
        .then_err(DomainError::ProjectNotFound);
    given(with(
        two_projects(),
        [key_created(FRUIT, OWNER, 2, &["owner"], &[])],
    ))
    .when(key_of(OWNER, 2), transfer(TransferAmount::Amount(usd(1))))
    .then_err(DomainError::AccountRequired);
}

#[test]
fn the_sweeper_expires_each_grant_once() {
    let swept = given(funded())
        .at(days(30))
        .when(Actor::System, Command::ExpireCredits)
        .events();
    assert_eq!(
        swept,
        [Event::CreditsExpired {
            project_id: project(FRUIT),
            grant_id: grant(3),
            amount: usd(2),
        }]
    );
    given(with(funded(), swept))
        .at(days(31))
        .when(Actor::System, Command::ExpireCredits)
        .then(vec![]);
}

#[test]
fn a_project_holds_at_most_its_balances_and_the_widest_transfer_fits_the_log() {
    // Given: the most balances with credit a project may hold, one nano-dollar each.
    let mut history = with(fruit_company(), created(OTHER, OWNER));
    for n in 0..crate::limits::BALANCES_PER_PROJECT_MAX as u128 {
        history.push(granted(
            FRUIT,
            100 + n,
            CreditSource::Card,
            Nanodollars::new(1),
            None,
        ));
    }
    // When: one more grant; then a transfer taking a nano-dollar from every balance.
    given(history.clone())
        .when(
            Actor::Operator,
            Command::GrantCredits {
                project_id: project(FRUIT),
                grant_id: grant(99),
                source: CreditSource::Card,
                amount: usd(1),
                expires_at: None,
                reference: None,
            },
        )
        .then_err(DomainError::TooManyBalances);
    let amount = Nanodollars::new(crate::limits::BALANCES_PER_PROJECT_MAX as i64);
    let events = given(history)
        .when(person(OWNER), transfer(TransferAmount::Amount(amount)))
        .events();
    // Then: every part moved in one event each side, and each fits one record.
    assert_eq!(
        moved(&events).len(),
        crate::limits::BALANCES_PER_PROJECT_MAX
    );
    assert!(events.iter().all(steward_events::codec::fits));
}

#[test]
fn the_sweeper_records_a_bounded_number_of_expiries_per_command() {
    // Given: more expired grants than one sweep command records.
    let mut history = created(FRUIT, OWNER);
    let count = crate::limits::EXPIRIES_PER_SWEEP_MAX + 7;
    for n in 0..count as u128 {
        history.push(granted(
            FRUIT,
            100 + n,
            CreditSource::Contract,
            usd(1),
            Some(days(1)),
        ));
    }
    // When: swept twice.
    let first = given(history.clone())
        .at(days(2))
        .when(Actor::System, Command::ExpireCredits)
        .events();
    history.extend(first.clone());
    let second = given(history)
        .at(days(2))
        .when(Actor::System, Command::ExpireCredits)
        .events();
    // Then
    assert_eq!(first.len(), crate::limits::EXPIRIES_PER_SWEEP_MAX);
    assert_eq!(second.len(), 7);
}
