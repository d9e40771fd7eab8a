//! The command processor under concurrent load: every command answered, batches shared.

use std::sync::Arc;
use steward::{
    clock::SystemClock,
    domain::{Command, PersonName, ProjectName, Registration},
    Steward,
};
use steward_events::{AccountId, Actor, Email, ProjectId};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_share_flushes_and_all_land_in_order() {
    // Given
    let directory = tempfile::tempdir().unwrap();
    let steward = Arc::new(Steward::open(directory.path(), Arc::new(SystemClock)).unwrap());
    let signups = 400;
    // When: many clients sign up at once, and one signs up twice.
    let mut tasks = Vec::new();
    for index in 0..=signups {
        let steward = Arc::clone(&steward);
        let email = Email::parse(&format!("user{}@fruit.example", index % signups)).unwrap();
        tasks.push(tokio::spawn(async move {
            steward
                .execute(
                    Actor::System,
                    Command::RegisterAccount(Registration {
                        account_id: AccountId::from_uuid(Uuid::now_v7()),
                        email,
                        first_name: PersonName::parse("F").unwrap(),
                        last_name: PersonName::parse("L").unwrap(),
                        password_hash: None,
                        project_id: ProjectId::from_uuid(Uuid::now_v7()),
                        project_name: ProjectName::parse("P").unwrap(),
                        promotional_credit: None,
                    }),
                )
                .await
        }));
    }
    let mut landed = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(envelopes) => {
                assert_eq!(envelopes.len(), 3);
                landed += 1;
            }
            Err(error) => {
                assert_eq!(
                    error.to_string(),
                    "an account with this email already exists"
                );
                refused += 1;
            }
        }
    }
    // Then
    assert_eq!((landed, refused), (signups, 1));
    assert_eq!(steward.log().head().unwrap(), 3 * signups as u64);
    assert_eq!(steward.log().verify().unwrap().events, 3 * signups as u64);
    let stats = steward.processor_stats();
    assert_eq!(stats.commands, signups as u64 + 1);
    assert!(
        stats.batches < stats.commands,
        "group commit should put several commands in one flush: {stats:?}"
    );
    let accounts = steward.read(|projections| projections.membership.accounts.len());
    assert_eq!(accounts, signups);
}
