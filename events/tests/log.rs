//! What is the sled log's own: its stream index, re-indexing, writes beside the log. The
//! contract every log keeps is in `suite/`, the damage to stored values in `damage.rs`.

mod support;

use steward_events::*;
use support::{commit, project, renamed, samples};

fn open() -> (tempfile::TempDir, SledLog) {
    let directory = tempfile::tempdir().unwrap();
    let log = SledLog::open(directory.path()).unwrap();
    (directory, log)
}

#[test]
fn streams_interleaved_in_group_commits_read_back_from_any_version() {
    // Given: two streams interleaved within each group commit, so each append leaves one
    // run per stream in the index, and three appends leave three runs each.
    let (_directory, log) = open();
    for round in 0..3 {
        let commits = (0..20)
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
    // When: reading from the first, a middle, the last and a missing version
    let read = |stream: u128, from: u64| -> Vec<(u64, u64)> {
        log.read_stream(StreamId::Project(project(stream)), from)
            .map(|e| e.map(|e| (e.stream_version, e.position)).unwrap())
            .collect()
    };
    // Then
    let odd: Vec<(u64, u64)> = (1..=30).map(|version| (version, version * 2)).collect();
    assert_eq!(read(1, 1), odd);
    assert_eq!(read(1, 0), odd);
    assert_eq!(read(1, 14), odd[13..]);
    assert_eq!(read(1, 30), [(30, 60)]);
    assert_eq!(read(1, 31), []);
    assert_eq!(
        read(0, 11),
        (11..=30).map(|v| (v, v * 2 - 1)).collect::<Vec<_>>()
    );
    assert_eq!(read(7, 1), []);
    assert_eq!(
        log.stream_version(StreamId::Project(project(0))).unwrap(),
        30
    );
    assert_eq!(log.verify().unwrap().events, 60);
    // One index entry per stream per append at most, not one per event (and the watermark).
    assert!(log.db().open_tree("streams").unwrap().len() <= 6 + 1);
}

#[test]
fn an_index_entry_pointing_elsewhere_is_reported_by_verify() {
    // Given: a log whose index says project 1's third version sits where its fourth does.
    let (_directory, log) = open();
    let commits = (0..6)
        .map(|index| commit(vec![renamed(project(1), &index.to_string())]))
        .collect();
    for outcome in log.append_all(commits).unwrap() {
        outcome.unwrap();
    }
    log.verify().unwrap();
    let streams = log.db().open_tree("streams").unwrap();
    let stream = StreamId::Project(project(1));
    let (key, value) = streams
        .scan_prefix(stream.storage_prefix())
        .next()
        .unwrap()
        .unwrap();
    let mut value = value.to_vec();
    value[2 * 8..3 * 8].copy_from_slice(&4u64.to_be_bytes());
    streams.insert(key, value).unwrap();
    // When
    let error = log.verify().unwrap_err();
    // Then
    assert!(
        matches!(error, LogError::Corrupt { position: 3, .. }),
        "{error:?}"
    );
    assert!(log
        .read_stream(StreamId::Project(project(1)), 3)
        .next()
        .unwrap()
        .is_err());
}

#[test]
fn a_request_index_entry_pointing_elsewhere_is_reported_by_verify() {
    // Given
    let (_directory, log) = open();
    let usage = samples()
        .into_iter()
        .find(|event| event.kind() == "usage_recorded")
        .unwrap();
    log.append(commit(vec![renamed(project(1), "x")])).unwrap();
    log.append(commit(vec![usage])).unwrap();
    assert_eq!(log.verify().unwrap().events, 2);
    // When: the index entry points elsewhere
    let requests = log.db().open_tree("requests").unwrap();
    let (key, _) = requests.first().unwrap().unwrap();
    requests.insert(key, &1u64.to_be_bytes()[..]).unwrap();
    // Then
    assert!(matches!(
        log.verify(),
        Err(LogError::Corrupt { position: 2, .. })
    ));
}

fn index_key(stream: StreamId, version: u64) -> Vec<u8> {
    let mut key = stream.storage_prefix().to_vec();
    key.extend_from_slice(&version.to_be_bytes());
    key
}

#[test]
fn an_unindexed_tail_left_by_a_crash_is_indexed_on_open() {
    // Given: a log whose stream index lost its last entry, as a crash before the indexer
    // wrote it would leave it.
    let directory = tempfile::tempdir().unwrap();
    let stream = StreamId::Project(project(1));
    {
        let log = SledLog::open(directory.path()).unwrap();
        log.append(commit(vec![renamed(project(1), "a")])).unwrap();
        log.append(commit(vec![renamed(project(1), "b")])).unwrap();
        // Wait for the indexer, then put the index back as it was after the first append.
        log.verify().unwrap();
        let streams = log.db().open_tree("streams").unwrap();
        streams.clear().unwrap();
        streams
            .insert(index_key(stream, 1), &1u64.to_be_bytes()[..])
            .unwrap();
        streams
            .insert("#indexed_through/v2", &1u64.to_be_bytes()[..])
            .unwrap();
        log.db().flush().unwrap();
    }
    // When
    let log = SledLog::open(directory.path()).unwrap();
    // Then
    assert_eq!(log.stream_version(stream).unwrap(), 2);
    assert_eq!(
        log.verify().unwrap(),
        VerifyReport {
            events: 2,
            streams: 1
        }
    );
}

#[test]
fn a_log_indexed_one_entry_per_event_without_a_watermark_is_reindexed_on_open() {
    // Given: the index layout of earlier versions, one entry per event and the watermark
    // elsewhere, here covering only the first 5 of 12 events.
    let directory = tempfile::tempdir().unwrap();
    let stream = StreamId::Project(project(1));
    {
        let log = SledLog::open(directory.path()).unwrap();
        let commits = (0..12)
            .map(|index| commit(vec![renamed(project(1), &index.to_string())]))
            .collect();
        for outcome in log.append_all(commits).unwrap() {
            outcome.unwrap();
        }
        log.verify().unwrap();
        let streams = log.db().open_tree("streams").unwrap();
        streams.clear().unwrap();
        for version in 1..=5u64 {
            streams
                .insert(index_key(stream, version), &version.to_be_bytes()[..])
                .unwrap();
        }
        log.db().flush().unwrap();
    }
    // When
    let log = SledLog::open(directory.path()).unwrap();
    // Then
    assert_eq!(log.stream_version(stream).unwrap(), 12);
    for from in 1..=13u64 {
        let versions: Vec<u64> = log
            .read_stream(stream, from)
            .map(|e| e.unwrap().stream_version)
            .collect();
        assert_eq!(versions, (from..=12).collect::<Vec<_>>());
    }
    assert_eq!(log.verify().unwrap().events, 12);
}
