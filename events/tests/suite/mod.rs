//! The event log's contract, as cases any `EventLog` must pass: the sled log runs them in
//! `sled_suite.rs`, the PostgreSQL log in `postgres_suite.rs`. Each case gets a fresh store.
#![allow(dead_code)] // Each test binary uses its own part of the support module.

use crate::support::{commit, project, renamed, samples};
use std::collections::HashSet;
use steward_events::*;

/// Where a case's log lives; `open` may be called again once the previous log is dropped.
pub trait Store {
    fn open(&self) -> Box<dyn LogStore>;
}

/// One case of the suite.
pub type Case = fn(&dyn Store);

/// Every case, by name, for the runners.
pub const CASES: &[(&str, Case)] = &[
    (
        "appends_take_gap_free_positions_and_per_stream_versions",
        appends_take_gap_free_positions_and_per_stream_versions,
    ),
    (
        "a_stale_expected_version_is_a_conflict_and_writes_nothing",
        a_stale_expected_version_is_a_conflict_and_writes_nothing,
    ),
    (
        "a_group_commit_refuses_only_the_conflicting_commit",
        a_group_commit_refuses_only_the_conflicting_commit,
    ),
    (
        "a_transfer_lands_in_both_streams_together",
        a_transfer_lands_in_both_streams_together,
    ),
    (
        "reads_return_the_log_in_order_from_any_position_and_per_stream",
        reads_return_the_log_in_order_from_any_position_and_per_stream,
    ),
    (
        "a_long_log_reads_back_whole_from_any_position",
        a_long_log_reads_back_whole_from_any_position,
    ),
    (
        "a_reopened_log_keeps_its_events_and_continues_the_positions",
        a_reopened_log_keeps_its_events_and_continues_the_positions,
    ),
    (
        "a_recorded_request_is_found_by_its_id_at_once_and_after_reopening",
        a_recorded_request_is_found_by_its_id_at_once_and_after_reopening,
    ),
    (
        "recorded_requests_are_asked_together_and_found_in_their_own_project",
        recorded_requests_are_asked_together_and_found_in_their_own_project,
    ),
    (
        "an_oversized_event_is_refused_and_nothing_lands",
        an_oversized_event_is_refused_and_nothing_lands,
    ),
    (
        "appends_at_one_expected_version_from_64_threads_give_exactly_one_success",
        appends_at_one_expected_version_from_64_threads_give_exactly_one_success,
    ),
    (
        "an_import_continues_the_log_exactly_or_lands_nothing",
        an_import_continues_the_log_exactly_or_lands_nothing,
    ),
    (
        "writes_beside_the_log_land_with_an_append_and_read_back_in_key_order",
        writes_beside_the_log_land_with_an_append_and_read_back_in_key_order,
    ),
];

fn expecting(name: &str, version: u64) -> Commit {
    let mut commit = commit(vec![renamed(project(1), name)]);
    commit.expected_versions = vec![(
        StreamId::Project(project(1)),
        ExpectedVersion::Exactly(version),
    )];
    commit
}

fn positions(log: &dyn EventLog, from: u64) -> Vec<u64> {
    log.read_from(from).map(|e| e.unwrap().position).collect()
}

pub fn appends_take_gap_free_positions_and_per_stream_versions(store: &dyn Store) {
    // Given
    let log = store.open();
    // When
    let first = log
        .append(commit(vec![
            renamed(project(1), "a"),
            renamed(project(2), "b"),
        ]))
        .unwrap();
    let second = log.append(commit(vec![renamed(project(1), "c")])).unwrap();
    // Then
    let positions: Vec<u64> = first.iter().chain(&second).map(|e| e.position).collect();
    assert_eq!(positions, [1, 2, 3]);
    let versions: Vec<u64> = first
        .iter()
        .chain(&second)
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(versions, [1, 1, 2]);
    assert_eq!(log.head().unwrap(), 3);
    assert_eq!(
        log.stream_version(StreamId::Project(project(1))).unwrap(),
        2
    );
    assert_eq!(
        log.stream_version(StreamId::Project(project(9))).unwrap(),
        0
    );
}

pub fn a_stale_expected_version_is_a_conflict_and_writes_nothing(store: &dyn Store) {
    // Given
    let log = store.open();
    log.append(commit(vec![renamed(project(1), "a")])).unwrap();
    // When
    let mut stale = commit(vec![renamed(project(1), "b"), renamed(project(2), "x")]);
    stale.expected_versions = vec![(StreamId::Project(project(1)), ExpectedVersion::Exactly(0))];
    let refused = log.append(stale);
    // Then
    assert!(
        matches!(
            refused,
            Err(LogError::Conflict {
                expected: 0,
                actual: 1,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(log.head().unwrap(), 1);
    assert_eq!(log.read_from(1).count(), 1);
    assert_eq!(
        log.stream_version(StreamId::Project(project(2))).unwrap(),
        0
    );
}

pub fn a_group_commit_refuses_only_the_conflicting_commit(store: &dyn Store) {
    // Given
    let log = store.open();
    // When: the second commit expects what the first one changed.
    let outcomes = log
        .append_all(vec![
            expecting("x", 0),
            expecting("y", 0),
            expecting("z", 1),
        ])
        .unwrap();
    // Then
    assert_eq!(outcomes[0].as_ref().unwrap()[0].position, 1);
    assert!(matches!(outcomes[1], Err(LogError::Conflict { .. })));
    assert_eq!(outcomes[2].as_ref().unwrap()[0].position, 2);
    assert_eq!(log.head().unwrap(), 2);
    assert_eq!(log.verify().unwrap().events, 2);
}

pub fn a_transfer_lands_in_both_streams_together(store: &dyn Store) {
    // Given
    let log = store.open();
    let transfer: Vec<Event> = samples()
        .into_iter()
        .filter(|event| event.kind().starts_with("credits_transferred"))
        .collect();
    // When
    let envelopes = log.append(commit(transfer)).unwrap();
    // Then
    assert_eq!(envelopes.len(), 2);
    assert_ne!(envelopes[0].stream, envelopes[1].stream);
    for envelope in &envelopes {
        let read: Vec<Envelope> = log
            .read_stream(envelope.stream, 1)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(read, vec![envelope.clone()]);
    }
}

pub fn reads_return_the_log_in_order_from_any_position_and_per_stream(store: &dyn Store) {
    // Given
    let log = store.open();
    for index in 0..10 {
        log.append(commit(vec![renamed(
            project(index % 2),
            &index.to_string(),
        )]))
        .unwrap();
    }
    // When
    let odd: Vec<u64> = log
        .read_stream(StreamId::Project(project(1)), 3)
        .map(|e| e.unwrap().position)
        .collect();
    // Then
    assert_eq!(positions(&*log, 7), [7, 8, 9, 10]);
    assert_eq!(odd, [6, 8, 10]);
    assert_eq!(log.read_at(4).unwrap().unwrap().position, 4);
    assert!(log.read_at(11).unwrap().is_none());
    assert!(log.read_at(0).unwrap().is_none());
    assert_eq!(positions(&*log, 11), Vec::<u64>::new());
}

pub fn a_long_log_reads_back_whole_from_any_position(store: &dyn Store) {
    // Given: more events than one read fetches, in appends of many commits, 1,250 in each
    // of two streams.
    let log = store.open();
    for round in 0..5 {
        let commits = (0..500)
            .map(|index| {
                commit(vec![renamed(
                    project(index % 2),
                    &format!("{round}-{index}"),
                )])
            })
            .collect();
        for outcome in log.append_all(commits).unwrap() {
            outcome.unwrap();
        }
    }
    let versions = |from: u64| -> Vec<u64> {
        log.read_stream(StreamId::Project(project(1)), from)
            .map(|e| e.unwrap().stream_version)
            .collect()
    };
    // Then
    assert_eq!(positions(&*log, 1), (1..=2500).collect::<Vec<_>>());
    assert_eq!(positions(&*log, 999), (999..=2500).collect::<Vec<_>>());
    assert_eq!(positions(&*log, 2001), (2001..=2500).collect::<Vec<_>>());
    assert_eq!(versions(1), (1..=1250).collect::<Vec<_>>());
    assert_eq!(versions(800), (800..=1250).collect::<Vec<_>>());
    assert_eq!(log.verify().unwrap().events, 2500);
}

pub fn a_reopened_log_keeps_its_events_and_continues_the_positions(store: &dyn Store) {
    // Given
    {
        let log = store.open();
        log.append(commit(samples())).unwrap();
    }
    // When
    let log = store.open();
    let next = log
        .append(commit(vec![renamed(project(2), "again")]))
        .unwrap();
    // Then
    let events: Vec<Event> = log
        .read_from(1)
        .map(|e| e.unwrap().event)
        .take(samples().len())
        .collect();
    assert_eq!(events, samples());
    assert_eq!(next[0].position, samples().len() as u64 + 1);
    let project_version = log.stream_version(StreamId::Project(project(2))).unwrap();
    assert_eq!(next[0].stream_version, project_version);
    assert_eq!(log.verify().unwrap().events, samples().len() as u64 + 1);
}

pub fn a_recorded_request_is_found_by_its_id_at_once_and_after_reopening(store: &dyn Store) {
    // Given
    let usage = samples()
        .into_iter()
        .find(|event| event.kind() == "usage_recorded")
        .unwrap();
    let Event::UsageRecorded {
        project_id,
        request_id,
        ..
    } = usage.clone()
    else {
        unreachable!("a usage_recorded event")
    };
    {
        let log = store.open();
        log.append(commit(vec![renamed(project_id, "x")])).unwrap();
        // When: found right after the append returns
        let recorded = log.append(commit(vec![usage])).unwrap();
        // Then
        assert_eq!(
            log.request_position(project_id, request_id).unwrap(),
            Some(recorded[0].position)
        );
        assert_eq!(log.request_position(project(77), request_id).unwrap(), None);
    }
    // When: reopened
    let log = store.open();
    // Then
    assert_eq!(
        log.request_position(project_id, request_id).unwrap(),
        Some(2)
    );
    assert_eq!(log.verify().unwrap().events, 2);
}

pub fn recorded_requests_are_asked_together_and_found_in_their_own_project(store: &dyn Store) {
    // Given: usage recorded for three request ids in two projects, in two appends.
    let log = store.open();
    let sample = samples()
        .into_iter()
        .find(|event| event.kind() == "usage_recorded")
        .unwrap();
    let usage = |project_id: ProjectId, request: u128| {
        let mut event = sample.clone();
        if let Event::UsageRecorded {
            project_id: project,
            request_id,
            ..
        } = &mut event
        {
            *project = project_id;
            *request_id = RequestId::from_uuid(uuid::Uuid::from_u128(request));
        }
        event
    };
    let request = |n: u128| RequestId::from_uuid(uuid::Uuid::from_u128(n));
    let (apple, pear) = (project(1), project(2));
    log.append(commit(vec![usage(apple, 1), usage(apple, 2)]))
        .unwrap();
    log.append(commit(vec![usage(pear, 3)])).unwrap();
    // When: asked together, with ids never recorded and ids of the other project.
    let asked = [
        (apple, request(1)),
        (apple, request(2)),
        (apple, request(3)),
        (pear, request(1)),
        (pear, request(3)),
        (pear, request(4)),
    ];
    let recorded = log.recorded_requests(&asked).unwrap();
    // Then: exactly the ids recorded in their own project, as `request_position` says.
    let expected: HashSet<_> = [(apple, request(1)), (apple, request(2)), (pear, request(3))]
        .into_iter()
        .collect();
    assert_eq!(recorded, expected);
    for (project_id, request_id) in asked {
        let position = log.request_position(project_id, request_id).unwrap();
        assert_eq!(
            position.is_some(),
            expected.contains(&(project_id, request_id))
        );
    }
    assert!(log.recorded_requests(&[]).unwrap().is_empty());
}

pub fn an_oversized_event_is_refused_and_nothing_lands(store: &dyn Store) {
    // Given
    let log = store.open();
    // When
    let refused = log.append(commit(vec![
        renamed(project(1), "fine"),
        renamed(project(1), &"x".repeat(limits::RECORD_BYTES_MAX)),
    ]));
    // Then
    assert!(matches!(refused, Err(LogError::Limit(_))), "{refused:?}");
    assert_eq!(log.head().unwrap(), 0);
    assert_eq!(log.read_from(1).count(), 0);
    log.append(commit(vec![renamed(project(1), "after")]))
        .unwrap();
    assert_eq!(log.verify().unwrap().events, 1);
}

pub fn appends_at_one_expected_version_from_64_threads_give_exactly_one_success(store: &dyn Store) {
    // Given
    let log = store.open();
    log.append(commit(vec![renamed(project(1), "first")]))
        .unwrap();
    // When: 64 writers that all saw version 1.
    let outcomes: Vec<Result<Vec<Envelope>, LogError>> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..64)
            .map(|n| {
                let log = &*log;
                scope.spawn(move || log.append(expecting(&format!("writer {n}"), 1)))
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    // Then
    let won = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(won, 1);
    assert!(outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().err())
        .all(|error| matches!(
            error,
            LogError::Conflict {
                expected: 1,
                actual: 2,
                ..
            }
        )));
    assert_eq!(log.head().unwrap(), 2);
    assert_eq!(log.verify().unwrap().events, 2);
}

pub fn an_import_continues_the_log_exactly_or_lands_nothing(store: &dyn Store) {
    // Given: an export of another log.
    let exported: Vec<Envelope> = {
        let directory = tempfile::tempdir().unwrap();
        let other = SledLog::open(directory.path()).unwrap();
        other.append(commit(samples())).unwrap();
        other.read_from(1).map(Result::unwrap).collect()
    };
    let log = store.open();
    // When: imported with a gap
    let mut gapped = exported.clone();
    gapped.remove(3);
    let refused = log.import(&gapped);
    // Then: refused at the gap, and nothing landed.
    assert!(
        matches!(refused, Err(LogError::Corrupt { position: 5, .. })),
        "{refused:?}"
    );
    assert_eq!(log.head().unwrap(), 0);
    // When: imported whole
    log.import(&exported).unwrap();
    // Then: the same envelopes, and the log continues after them.
    let read: Vec<Envelope> = log.read_from(1).map(Result::unwrap).collect();
    assert_eq!(read, exported);
    let more = log
        .append(commit(vec![renamed(project(2), "after")]))
        .unwrap();
    assert_eq!(more[0].position, exported.len() as u64 + 1);
    assert_eq!(log.verify().unwrap().events, exported.len() as u64 + 1);
}

fn keys(entries: Vec<Entry>) -> Vec<Vec<u8>> {
    entries.into_iter().map(|(key, _)| key).collect()
}

pub fn writes_beside_the_log_land_with_an_append_and_read_back_in_key_order(store: &dyn Store) {
    // Given: an append with writes to two trees, one key written twice and one removed.
    let log = store.open();
    let mut beside = BesideWrites::default();
    for key in [b"c", b"a", b"d", b"b"] {
        beside.insert("letters", key.to_vec(), key.repeat(2));
    }
    beside.insert("letters", b"a".to_vec(), b"again".to_vec());
    beside.remove("letters", b"d".to_vec());
    beside.insert("others", b"a".to_vec(), b"other".to_vec());
    let outcomes = log
        .append_all_with(vec![commit(vec![renamed(project(1), "a")])], beside)
        .unwrap();
    assert!(outcomes[0].is_ok());
    // And writes beside with no commit at all.
    let mut alone = BesideWrites::default();
    alone.insert("letters", b"e".to_vec(), b"ee".to_vec());
    log.append_all_with(Vec::new(), alone).unwrap();
    drop(log);
    // When
    let log = store.open();
    // Then
    assert_eq!(log.head().unwrap(), 1);
    assert_eq!(log.get("letters", b"a").unwrap(), Some(b"again".to_vec()));
    assert_eq!(log.get("letters", b"d").unwrap(), None);
    assert_eq!(log.get("others", b"a").unwrap(), Some(b"other".to_vec()));
    assert_eq!(log.count("letters").unwrap(), 4);
    let all = log.scan("letters", KeyRange::all(), 10).unwrap();
    assert_eq!(keys(all), [b"a", b"b", b"c", b"e"]);
    let range = KeyRange {
        from: b"b",
        to: Some(b"e"),
        descending: true,
    };
    assert_eq!(keys(log.scan("letters", range, 10).unwrap()), [b"c", b"b"]);
    let from_b = KeyRange {
        from: b"b",
        to: None,
        descending: false,
    };
    assert_eq!(keys(log.scan("letters", from_b, 2).unwrap()), [b"b", b"c"]);
    // A tree named like one of the log's own is refused, or kept apart from it.
    let mut apart = BesideWrites::default();
    apart.insert("events", b"x".to_vec(), b"y".to_vec());
    let _ = log.append_all_with(Vec::new(), apart);
    assert_eq!(log.head().unwrap(), 1);
    assert_eq!(log.read_from(1).count(), 1);
}
