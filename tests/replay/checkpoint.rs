//! Checkpoints: a graceful stop writes one; the next start loads it and replays only the tail;
//! a checkpoint of other code, or a damaged one, is ignored and the whole log replayed.

use crate::helpers::demo;
use std::sync::Arc;
use steward::{
    checkpoint,
    clock::SystemClock,
    domain::{Command, PersonName, ProjectName, Registration},
    Steward,
};
use steward_events::{AccountId, Actor, Email, ProjectId, SledLog};
use steward_projections::Projections;
use uuid::Uuid;

fn open(path: &std::path::Path) -> Steward {
    Steward::open(path, Arc::new(SystemClock)).unwrap()
}

fn register(email: &str) -> Command {
    Command::RegisterAccount(Registration {
        account_id: AccountId::from_uuid(Uuid::now_v7()),
        email: Email::parse(email).unwrap(),
        first_name: PersonName::parse("F").unwrap(),
        last_name: PersonName::parse("L").unwrap(),
        password_hash: None,
        project_id: ProjectId::from_uuid(Uuid::now_v7()),
        project_name: ProjectName::parse("P").unwrap(),
        promotional_credit: None,
    })
}

fn rebuilt(path: &std::path::Path) -> Vec<steward_projections::ProjectionSummary> {
    Projections::rebuild(&SledLog::open(path).unwrap())
        .unwrap()
        .summaries()
}

#[tokio::test]
async fn a_graceful_stop_checkpoints_and_the_next_start_replays_nothing() {
    // Given: the demo, which ends with a graceful stop.
    let data = demo().await;
    // When
    let steward = open(data.path());
    // Then
    let report = steward.start_report();
    assert_eq!(report.checkpoint_position, Some(data.report.events));
    assert_eq!(report.replayed, 0);
    assert_eq!(
        steward.read(|projections| projections.summaries()),
        data.report.live_summaries
    );
    // The write model came back too: an email the demo registered is still taken.
    let refused = steward
        .execute(Actor::System, register("OLIVE@fruit.example"))
        .await;
    assert_eq!(
        refused.unwrap_err().to_string(),
        "an account with this email already exists"
    );
    steward.shutdown().unwrap();
}

#[tokio::test]
async fn events_after_the_checkpoint_are_replayed_after_a_crash() {
    // Given: a start from the checkpoint, then commands, then no graceful stop.
    let data = demo().await;
    {
        let steward = open(data.path());
        for index in 0..5 {
            steward
                .execute(
                    Actor::System,
                    register(&format!("late{index}@fruit.example")),
                )
                .await
                .unwrap();
        }
        drop(steward);
    }
    // When
    let steward = open(data.path());
    // Then
    let report = steward.start_report();
    assert_eq!(report.checkpoint_position, Some(data.report.events));
    assert_eq!(report.replayed, 15);
    let live = steward.read(|projections| projections.summaries());
    steward.shutdown().unwrap();
    assert_eq!(live, rebuilt(data.path()));
}

#[tokio::test]
async fn a_damaged_checkpoint_or_one_of_other_code_is_ignored() {
    let data = demo().await;
    let file = data.path().join("steward-checkpoint.bin");
    let original = std::fs::read(&file).unwrap();
    // Another code version: the version string is the first thing in the file.
    let mut other = original.clone();
    let at = other
        .windows(checkpoint::CODE_VERSION.len())
        .position(|window| window == checkpoint::CODE_VERSION.as_bytes())
        .unwrap();
    other[at + checkpoint::CODE_VERSION.len() - 1] ^= 1;
    // A damaged file: cut in half.
    let damaged = original[..original.len() / 2].to_vec();
    for bytes in [other, damaged] {
        // Given
        std::fs::write(&file, &bytes).unwrap();
        // When
        let steward = open(data.path());
        // Then
        let report = steward.start_report();
        assert_eq!(report.checkpoint_position, None);
        assert_eq!(report.replayed, data.report.events);
        assert_eq!(
            steward.read(|projections| projections.summaries()),
            data.report.live_summaries
        );
        drop(steward);
    }
}
