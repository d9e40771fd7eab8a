//! What needs the indexer held back, which only this module can do.

use super::*;
use crate::{
    catalog::{Deployment, Endpoint, RequestMethod, UsageUnits},
    ids::KeyId,
    money::Nanodollars,
};
use std::sync::mpsc;

fn usage(n: u128) -> ProposedEvent {
    let id = |offset: u128| Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + offset);
    ProposedEvent {
        event: Event::UsageRecorded {
            project_id: ProjectId::from_uuid(id(1)),
            request_id: RequestId::from_uuid(id(1_000 + n)),
            key_id: KeyId::from_uuid(id(2)),
            tags: vec![],
            endpoint: Endpoint::Listen,
            method: RequestMethod::Sync,
            model: "nova-3".into(),
            deployment: Deployment::Hosted,
            units: UsageUnits::default(),
            cost: Nanodollars::ZERO,
            status_code: 200,
            features: vec![],
        },
        actor: Actor::System,
        correlation_id: Uuid::nil(),
        event_id: EventId::from_uuid(Uuid::now_v7()),
        recorded_at: Timestamp::from_unix_micros(1_790_000_000_000_000),
    }
}

#[test]
fn an_append_that_leaves_too_many_request_ids_unindexed_waits_for_the_indexer() {
    // Given: an indexer that takes no job until released.
    let directory = tempfile::tempdir().unwrap();
    let log = Arc::new(SledLog::open(directory.path()).unwrap());
    // The stream's version is then known without asking the index.
    log.append(Commit {
        expected_versions: vec![],
        events: vec![usage(u128::MAX / 2)],
    })
    .unwrap();
    log.wait_for_index().unwrap();
    let (release, held) = mpsc::channel();
    log.indexer.send(IndexJob::Hold(held)).unwrap();
    let per_append = EVENTS_PER_COMMIT_MAX as u128;
    let appends = RECENT_REQUESTS_MAX as u128 / per_append + 1;
    // When: appends whose request ids pass RECENT_REQUESTS_MAX, from another thread.
    let (returned, progress) = mpsc::channel();
    let appender = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for append in 0..appends {
                let events = (0..per_append)
                    .map(|n| usage(append * per_append + n))
                    .collect();
                log.append(Commit {
                    expected_versions: vec![],
                    events,
                })
                .unwrap();
                returned.send(append).unwrap();
            }
        })
    };
    // Then: every append below the bound returns; the one past it does not, while held.
    for append in 0..appends - 1 {
        assert_eq!(progress.recv().unwrap(), append);
    }
    let waited = progress.recv_timeout(std::time::Duration::from_millis(300));
    assert!(
        waited.is_err(),
        "returned with the indexer held: {waited:?}"
    );
    assert_eq!(
        lock(&log.recent_requests).len() as u128,
        appends * per_append
    );
    // When released, it returns with every request id indexed.
    drop(release);
    assert_eq!(progress.recv().unwrap(), appends - 1);
    appender.join().unwrap();
    assert!(lock(&log.recent_requests).is_empty());
    assert_eq!(log.requests.len() as u128, appends * per_append + 1);
}
