//! Usage: recording requests, paying for them, once per request id.

use crate::domain::{testing::*, *};

#[test]
fn usage_spends_the_soonest_expiring_credit_first_and_card_credit_last() {
    let events = given(funded())
        .when(key_of(MEMBER, 1), usage(1, usd(8), 200, &[]))
        .events();
    assert_eq!(
        events[1],
        Event::CreditsConsumed {
            project_id: project(FRUIT),
            request_id: RequestId::from_uuid(uuid(4001)),
            portions: vec![
                ConsumedPortion {
                    grant_id: grant(3),
                    amount: usd(2),
                    remaining: usd(0),
                },
                ConsumedPortion {
                    grant_id: grant(2),
                    amount: usd(5),
                    remaining: usd(0),
                },
                ConsumedPortion {
                    grant_id: grant(1),
                    amount: usd(1),
                    remaining: usd(9),
                },
            ],
        }
    );
}

#[test]
fn usage_never_spends_expired_credit() {
    given(funded())
        .at(days(90))
        .when(key_of(MEMBER, 1), usage(1, usd(11), 200, &[]))
        .then_err(DomainError::InsufficientCredit);
    let events = given(funded())
        .at(days(30))
        .when(key_of(MEMBER, 1), usage(1, usd(6), 200, &[]))
        .events();
    let Event::CreditsConsumed { portions, .. } = &events[1] else {
        panic!("expected consumption, got {events:?}");
    };
    let spent_from: Vec<GrantId> = portions.iter().map(|p| p.grant_id).collect();
    assert_eq!(spent_from, [grant(2), grant(1)]);
}

#[test]
fn usage_beyond_the_balance_is_refused_and_records_nothing() {
    given(funded())
        .when(
            key_of(MEMBER, 1),
            usage(1, usd(17) + Nanodollars::new(1), 200, &[]),
        )
        .then_err(DomainError::InsufficientCredit);
}

#[test]
fn a_failed_request_is_recorded_and_costs_nothing() {
    let events = given(funded())
        .when(key_of(MEMBER, 1), usage(1, usd(3), 503, &[]))
        .events();
    assert_eq!(events.len(), 1, "no consumption: {events:?}");
    let Event::UsageRecorded {
        cost, status_code, ..
    } = &events[0]
    else {
        panic!("expected usage, got {events:?}");
    };
    assert_eq!((*cost, *status_code), (Nanodollars::ZERO, 503));
}

#[test]
fn usage_carries_the_keys_tags_and_the_requests_own() {
    let events = given(funded())
        .when(
            key_of(MEMBER, 1),
            usage(1, usd(1), 200, &["batch-7", "apple"]),
        )
        .events();
    let Event::UsageRecorded { tags, .. } = &events[0] else {
        panic!("expected usage, got {events:?}");
    };
    assert_eq!(tags, &[tag("apple"), tag("batch-7")]);
}

#[test]
fn a_request_id_the_log_knows_is_refused_as_a_duplicate_but_only_to_whoever_may_meter() {
    let recorded = Known {
        request_recorded: true,
    };
    given(funded())
        .knowing(recorded)
        .when(key_of(MEMBER, 1), usage(1, usd(1), 200, &[]))
        .then_err(DomainError::DuplicateRequest);
    // A key of another project learns nothing of this project's requests.
    given(with(funded(), created(OTHER, OUTSIDER)))
        .knowing(recorded)
        .when(key_of(OUTSIDER, 9), usage(1, usd(1), 200, &[]))
        .then_err(DomainError::ProjectNotFound);
}

/// What the processor tells `decide` of the log's request index (`Known`), tested through a
/// processor on a log: concurrently, after a restart, and per project.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_request_is_recorded_once_per_project() {
    use crate::{clock::ManualClock, processor::CommandProcessor};
    use std::sync::{Arc, RwLock};

    // Given: the Fruit Company and another project, each funded with a key.
    let directory = tempfile::tempdir().unwrap();
    let history = with(
        funded(),
        [
            created(OTHER, OWNER),
            vec![
                granted(OTHER, 4, CreditSource::Card, usd(10), None),
                key_created(OTHER, OWNER, 2, &["member"], &[]),
            ],
        ]
        .concat(),
    );
    let start_processor = |log: Arc<SledLog>| {
        let state = crate::domain::load_state(&*log).unwrap();
        let projections = Arc::new(RwLock::new(
            steward_projections::Projections::rebuild(&*log).unwrap(),
        ));
        let clock = Arc::new(ManualClock::new(days(1)));
        CommandProcessor::start(log, state, projections, clock, true)
    };
    let log = Arc::new(SledLog::open(directory.path()).unwrap());
    log.append(Commit {
        expected_versions: vec![],
        events: history
            .into_iter()
            .map(|event| ProposedEvent {
                event,
                actor: Actor::System,
                correlation_id: Uuid::nil(),
                event_id: EventId::from_uuid(Uuid::now_v7()),
                recorded_at: start(),
            })
            .collect(),
    })
    .unwrap();
    let processor = Arc::new(start_processor(Arc::clone(&log)));
    // When: the same request, 32 times at once
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let processor = Arc::clone(&processor);
        tasks.spawn(async move {
            processor
                .execute(key_of(MEMBER, 1), usage(1, usd(1), 200, &[]))
                .await
        });
    }
    let answers = tasks.join_all().await;
    // Then: one is recorded, 31 are refused as duplicates
    let recorded = answers.iter().filter(|answer| answer.is_ok()).count();
    let duplicates = answers
        .iter()
        .filter(|answer| {
            matches!(
                answer,
                Err(crate::processor::CommandError::Domain(
                    DomainError::DuplicateRequest
                ))
            )
        })
        .count();
    assert_eq!((recorded, duplicates), (1, 31), "{answers:?}");
    let head = log.head();

    // When: retried after a restart
    drop(processor);
    drop(log);
    let log = Arc::new(SledLog::open(directory.path()).unwrap());
    let processor = start_processor(Arc::clone(&log));
    let again = processor
        .execute(key_of(MEMBER, 1), usage(1, usd(1), 200, &[]))
        .await;
    // Then
    assert!(
        matches!(
            again,
            Err(crate::processor::CommandError::Domain(
                DomainError::DuplicateRequest
            ))
        ),
        "{again:?}"
    );
    assert_eq!(log.head(), head);

    // When: the same request id in another project
    let elsewhere = Command::RecordUsage {
        project_id: project(OTHER),
        report: match usage(1, usd(1), 200, &[]) {
            Command::RecordUsage { report, .. } => report,
            _ => unreachable!("usage() makes a RecordUsage"),
        },
    };
    let recorded_elsewhere = processor.execute(key_of(OWNER, 2), elsewhere).await;
    // Then: it is another project's request
    assert!(recorded_elsewhere.is_ok(), "{recorded_elsewhere:?}");
    assert!(log.head() > head);
}

#[test]
fn usage_is_recorded_only_with_a_key_holding_usage_write() {
    given(funded())
        .when(person(MEMBER), usage(1, usd(1), 200, &[]))
        .then_err(DomainError::InsufficientPermissions);
    given(with(
        funded(),
        [key_created(FRUIT, MEMBER, 2, &["usage:read"], &[])],
    ))
    .when(key_of(MEMBER, 2), usage(1, usd(1), 200, &[]))
    .then_err(DomainError::InsufficientPermissions);
}

/// The model the test requests use, and a command changing the Fruit Company's access to it.
fn nova() -> MeteredModel {
    "nova-3".into()
}

fn set_access(allowed: bool, public: bool) -> Command {
    Command::SetModelAccess {
        project_id: project(FRUIT),
        model_id: nova().id,
        public,
        allowed,
    }
}

#[test]
fn a_model_the_operator_took_away_is_refused_and_records_nothing() {
    let revoked = given(funded())
        .when(Actor::Operator, set_access(false, true))
        .events();
    assert_eq!(
        revoked,
        [Event::ModelAccessRevoked {
            project_id: project(FRUIT),
            model_id: nova().id,
        }]
    );
    given(with(funded(), revoked.clone()))
        .when(key_of(MEMBER, 1), usage(1, usd(1), 200, &[]))
        .then_err(DomainError::ModelNotAllowed);
    // Revoking again records nothing; granting gives it back.
    given(with(funded(), revoked.clone()))
        .when(Actor::Operator, set_access(false, true))
        .then(vec![]);
    let granted = given(with(funded(), revoked.clone()))
        .when(Actor::Operator, set_access(true, true))
        .events();
    let history = with(with(funded(), revoked), granted);
    assert_eq!(
        given(history)
            .when(key_of(MEMBER, 1), usage(1, usd(1), 200, &[]))
            .events()
            .len(),
        2
    );
}

#[test]
fn a_private_model_is_metered_only_once_granted_and_only_the_operator_grants() {
    let mut private = usage(1, usd(1), 200, &[]);
    if let Command::RecordUsage { report, .. } = &mut private {
        report.model.public = false;
    }
    given(funded())
        .when(key_of(MEMBER, 1), private.clone())
        .then_err(DomainError::ModelNotAllowed);
    for actor in [person(OWNER), key_of(MEMBER, 1)] {
        given(funded())
            .when(actor, set_access(true, false))
            .then_err(DomainError::InsufficientPermissions);
    }
    let granted = given(funded())
        .when(Actor::Operator, set_access(true, false))
        .events();
    assert!(given(with(funded(), granted))
        .when(key_of(MEMBER, 1), private)
        .events()
        .iter()
        .any(|event| matches!(event, Event::UsageRecorded { .. })));
}

#[test]
fn usage_records_the_features_used_once_each_in_stored_order() {
    let mut command = usage(1, usd(1), 200, &[]);
    if let Command::RecordUsage { report, .. } = &mut command {
        report.features = [Feature::SmartFormat, Feature::Diarize, Feature::SmartFormat]
            .into_iter()
            .collect();
    }
    let events = given(funded()).when(key_of(MEMBER, 1), command).events();
    let Event::UsageRecorded { features, .. } = &events[0] else {
        panic!("expected usage, got {events:?}");
    };
    assert_eq!(features, &[Feature::Diarize, Feature::SmartFormat]);
}
