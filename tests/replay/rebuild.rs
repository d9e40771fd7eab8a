//! Rebuilding from the log gives exactly the state the live projections held.

use crate::helpers::demo;
use std::sync::Arc;
use steward::{clock::SystemClock, Steward};
use steward_events::{Nanodollars, SledLog, Timestamp};
use steward_projections::{keys::KeyRejection, Projections};

#[tokio::test]
async fn a_rebuild_from_the_log_equals_the_live_projections() {
    // Given
    let data = demo().await;
    // When
    let rebuilt = Projections::rebuild(&SledLog::open(data.path()).unwrap()).unwrap();
    // Then
    assert_eq!(rebuilt.summaries(), data.report.live_summaries);
    assert_eq!(rebuilt.position(), data.report.events);
}

#[tokio::test]
async fn a_reopened_data_directory_serves_the_same_state_and_takes_new_commands() {
    // Given
    let data = demo().await;
    // When
    let steward = Steward::open(data.path(), Arc::new(SystemClock)).unwrap();
    // Then
    let summaries = steward.read(|projections| projections.summaries());
    assert_eq!(summaries, data.report.live_summaries);
    let refused = steward
        .execute(
            steward_events::Actor::System,
            steward::domain::Command::ExpireCredits,
        )
        .await
        .unwrap();
    assert!(refused.is_empty(), "the demo already swept: {refused:?}");
    steward.shutdown().unwrap();
}

#[tokio::test]
async fn the_demo_tells_its_story_through_the_projections() {
    // Given
    let data = demo().await;
    let projections = Projections::rebuild(&SledLog::open(data.path()).unwrap()).unwrap();
    let fruit = data.report.fruit_company;
    let labs = data.report.fruit_labs;
    let december = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
    // Then: members of each role, Mia removed, Pat's invitation gone.
    let project = projections.membership.project(fruit).unwrap();
    let roles: Vec<&str> = project.members.values().map(|role| role.name()).collect();
    assert_eq!(roles, ["owner", "admin", "admin"]);
    assert!(project.invitations.is_empty());
    // Then: the pear key died with Mia's membership; the others live.
    let keys: Vec<(&str, Result<(), KeyRejection>)> = projections
        .keys
        .of_project(fruit)
        .map(|(key_id, key)| {
            let validity = projections.keys.check_id(key_id, december).map(drop);
            (key.comment.as_str(), validity)
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("apple backend", Ok(())),
            ("banana backend", Ok(())),
            ("pear backend", Err(KeyRejection::CreatorNotMember)),
            ("operations", Ok(())),
        ]
    );
    assert_eq!(data.report.requests_refused_after_removal, 11 * 3);
    // Then: the trial contract moved to Fruit Labs kept its expiry and expired there.
    let labs_credits = projections.credits.project(labs).unwrap();
    assert_eq!(
        labs_credits.ledger.received,
        steward_events::LedgerTotal::from(Nanodollars::from_usd(25))
    );
    assert_eq!(labs_credits.ledger.expired, Nanodollars::from_usd(5).into());
    assert_eq!(
        labs_credits.balance_as_of(december),
        Nanodollars::from_usd(20)
    );
    // Then: every nano-dollar of usage cost was consumed from credit.
    let usage = projections.usage.project(fruit).unwrap();
    let cost: Nanodollars = usage.days.values().map(|day| day.total().cost).sum();
    let ledger = projections.credits.project(fruit).unwrap().ledger;
    assert_eq!(ledger.consumed, cost.into());
    assert!(cost.is_positive());
}
