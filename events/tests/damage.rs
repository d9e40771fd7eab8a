//! The `events` tree's two kinds of value, lone records and segments: read alike by every
//! path, and damage to either reported with the position it hurt.
//!
//! The helpers here take values apart by the layout `log::segment` documents, so these tests
//! also pin that layout down.

mod support;

use steward_events::log::SEGMENT_FORMAT_BYTE;
use steward_events::*;
use support::{commit, project, renamed, samples};

/// How a test's events were appended: one append each (lone records), or all in one append
/// (segments).
#[derive(Clone, Copy, Debug)]
enum Layout {
    OneByOne,
    Together,
}

const LAYOUTS: [Layout; 2] = [Layout::OneByOne, Layout::Together];

fn append(log: &SledLog, layout: Layout, events: Vec<Event>) {
    match layout {
        Layout::OneByOne => {
            for event in events {
                log.append(commit(vec![event])).unwrap();
            }
        }
        Layout::Together => {
            log.append(commit(events)).unwrap();
        }
    }
}

fn written(layout: Layout, events: Vec<Event>) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let log = SledLog::open(directory.path()).unwrap();
    append(&log, layout, events);
    directory
}

/// The records of one `events` value, by the documented layout.
fn records_of(value: &[u8]) -> Vec<Vec<u8>> {
    if value[0] != SEGMENT_FORMAT_BYTE {
        return vec![value.to_vec()];
    }
    let count = usize::from(u16::from_le_bytes([value[1], value[2]]));
    let ends: Vec<usize> = value[3..3 + 4 * count]
        .chunks_exact(4)
        .map(|end| u32::from_le_bytes(end.try_into().unwrap()) as usize)
        .collect();
    let body = &value[3 + 4 * count + 4..];
    let mut start = 0;
    ends.iter()
        .map(|&end| {
            let record = body[start..end].to_vec();
            start = end;
            record
        })
        .collect()
}

/// One `events` value holding `records`, by the documented layout.
fn value_of(mut records: Vec<Vec<u8>>) -> Vec<u8> {
    if records.len() == 1 {
        return records.pop().unwrap();
    }
    let mut value = vec![SEGMENT_FORMAT_BYTE];
    value.extend_from_slice(&(records.len() as u16).to_le_bytes());
    let mut end = 0u32;
    for record in &records {
        end += record.len() as u32;
        value.extend_from_slice(&end.to_le_bytes());
    }
    let checksum = crc32c::crc32c(&value);
    value.extend_from_slice(&checksum.to_le_bytes());
    value.extend(records.concat());
    value
}

/// Every `events` value: the position of its first record, and its records.
fn values(db: &sled::Db) -> Vec<(u64, Vec<Vec<u8>>)> {
    db.open_tree("events")
        .unwrap()
        .iter()
        .map(|entry| {
            let (key, value) = entry.unwrap();
            (
                u64::from_be_bytes(key.as_ref().try_into().unwrap()),
                records_of(&value),
            )
        })
        .collect()
}

/// Changes the stored record at `position`, wherever it sits, leaving every other byte sound.
fn damage(directory: &std::path::Path, position: u64, change: impl Fn(&mut Vec<u8>)) {
    // Through the log's own open, which waits for the lock the log just released.
    let db = SledLog::open(directory).unwrap().db().clone();
    let (first, mut records) = values(&db)
        .into_iter()
        .rfind(|(first, _)| *first <= position)
        .unwrap();
    change(&mut records[(position - first) as usize]);
    db.open_tree("events")
        .unwrap()
        .insert(first.to_be_bytes(), value_of(records))
        .unwrap();
    db.flush().unwrap();
}

#[test]
fn one_append_of_many_events_is_packed_into_segments_and_one_event_stays_a_lone_record() {
    // Given
    let (_directory, log) = {
        let directory = tempfile::tempdir().unwrap();
        let log = SledLog::open(directory.path()).unwrap();
        (directory, log)
    };
    let name = "n".repeat(1000);
    // When: about 300 KiB in one append, then one event alone.
    let many: Vec<Event> = (0..300).map(|_| renamed(project(1), &name)).collect();
    log.append(commit(many)).unwrap();
    log.append(commit(vec![renamed(project(1), "alone")]))
        .unwrap();
    // Then: consecutive segments within the bounds, then the lone record.
    let values = values(log.db());
    let counts: Vec<usize> = values.iter().map(|(_, records)| records.len()).collect();
    assert!(values.len() > 2, "{counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), 301);
    assert_eq!(*counts.last().unwrap(), 1, "{counts:?}");
    let mut next = 1;
    for (first, records) in &values {
        assert_eq!(*first, next);
        let bytes: usize = records.iter().map(Vec::len).sum();
        assert!(
            records.len() == 1 || bytes <= limits::SEGMENT_BYTES_MAX,
            "{bytes}"
        );
        next += records.len() as u64;
    }
    let raw = log.db().open_tree("events").unwrap();
    assert_eq!(raw.first().unwrap().unwrap().1[0], SEGMENT_FORMAT_BYTE);
    assert_eq!(raw.last().unwrap().unwrap().1[0], codec::FORMAT_BYTE);
}

#[test]
fn every_read_path_sees_the_same_log_whichever_way_it_was_appended() {
    // Given: the same events, once as lone records and once in segments.
    let events = samples();
    let logs: Vec<(tempfile::TempDir, SledLog)> = LAYOUTS
        .iter()
        .map(|&layout| {
            let directory = written(layout, events.clone());
            let log = SledLog::open(directory.path()).unwrap();
            (directory, log)
        })
        .collect();
    let head = events.len() as u64;
    for (_, log) in &logs {
        // Then: each position by itself, and from each position on.
        assert_eq!(log.head(), head);
        for position in 1..=head {
            let at = log.read_at(position).unwrap().unwrap();
            assert_eq!(at.position, position);
            assert_eq!(at.event, events[position as usize - 1]);
            let from: Vec<u64> = log
                .read_from(position)
                .map(|envelope| envelope.unwrap().position)
                .collect();
            assert_eq!(from, (position..=head).collect::<Vec<_>>());
        }
        assert!(log.read_at(head + 1).unwrap().is_none());
        assert_eq!(log.read_from(head + 1).count(), 0);
        // Each stream, and the whole check.
        for event in &events {
            let stream: Vec<Event> = log
                .read_stream(event.stream(), 1)
                .map(|envelope| envelope.unwrap().event)
                .collect();
            let expected: Vec<Event> = events
                .iter()
                .filter(|other| other.stream() == event.stream())
                .cloned()
                .collect();
            assert_eq!(stream, expected);
        }
        assert_eq!(log.verify().unwrap().events, head);
    }
    let read =
        |log: &SledLog| -> Vec<Event> { log.read_from(1).map(|e| e.unwrap().event).collect() };
    assert_eq!(read(&logs[0].1), read(&logs[1].1));
}

#[test]
fn a_log_of_both_kinds_of_value_continues_after_reopening() {
    // Given: lone records, then a segment, then a lone record again.
    let directory = written(Layout::OneByOne, samples()[..3].to_vec());
    {
        let log = SledLog::open(directory.path()).unwrap();
        append(&log, Layout::Together, samples()[3..9].to_vec());
    }
    // When
    let log = SledLog::open(directory.path()).unwrap();
    log.append(commit(vec![renamed(project(1), "after")]))
        .unwrap();
    // Then
    assert_eq!(log.head(), 10);
    let positions: Vec<u64> = log.read_from(1).map(|e| e.unwrap().position).collect();
    assert_eq!(positions, (1..=10).collect::<Vec<_>>());
    assert_eq!(log.verify().unwrap().events, 10);
    let counts: Vec<usize> = values(log.db()).iter().map(|(_, r)| r.len()).collect();
    assert_eq!(counts, [1, 1, 1, 6, 1]);
}

#[test]
fn a_corrupted_record_is_reported_with_its_position() {
    for layout in LAYOUTS {
        // Given
        let directory = written(layout, samples());
        damage(directory.path(), 5, |record| record[10] ^= 0x20);
        // When
        let log = SledLog::open(directory.path()).unwrap();
        let read: Vec<Result<Envelope, LogError>> = log.read_from(1).collect();
        // Then: the four sound records, then the damage, and nothing after it.
        assert_eq!(read.len(), 5, "{layout:?}");
        assert!(read[..4].iter().all(Result::is_ok), "{layout:?}");
        assert!(
            matches!(read[4], Err(LogError::Corrupt { position: 5, .. })),
            "{layout:?}"
        );
        assert!(matches!(
            log.read_at(5),
            Err(LogError::Corrupt { position: 5, .. })
        ));
        assert!(log.read_at(6).unwrap().is_some(), "{layout:?}");
        assert!(matches!(
            log.verify(),
            Err(LogError::Corrupt { position: 5, .. })
        ));
    }
}

#[test]
fn a_truncated_record_is_reported_with_its_position() {
    for layout in LAYOUTS {
        // Given
        let directory = written(layout, samples());
        damage(directory.path(), 3, |record| {
            record.truncate(record.len() / 2)
        });
        // When
        let log = SledLog::open(directory.path()).unwrap();
        let stream = samples()[2].stream();
        let by_stream: Vec<_> = log.read_stream(stream, 1).collect();
        // Then
        let error = by_stream.into_iter().find_map(Result::err).unwrap();
        assert!(
            matches!(error, LogError::Corrupt { position: 3, .. }),
            "{layout:?}: {error}"
        );
        assert!(matches!(
            log.verify(),
            Err(LogError::Corrupt { position: 3, .. })
        ));
    }
}

/// Flips one bit of the header of the segment stored under `first`.
fn damage_header(directory: &std::path::Path, first: u64) {
    let db = SledLog::open(directory).unwrap().db().clone();
    let events = db.open_tree("events").unwrap();
    let mut value = events.get(first.to_be_bytes()).unwrap().unwrap().to_vec();
    value[4] ^= 0x01; // within the first record's end
    events.insert(first.to_be_bytes(), value).unwrap();
    db.flush().unwrap();
}

#[test]
fn a_damaged_segment_header_is_reported_at_the_segment_start() {
    // Given: a lone record, a segment from position 2, a lone record at 7.
    let directory = written(Layout::OneByOne, samples()[..1].to_vec());
    {
        let log = SledLog::open(directory.path()).unwrap();
        append(&log, Layout::Together, samples()[1..6].to_vec());
        append(&log, Layout::OneByOne, samples()[6..7].to_vec());
    }
    damage_header(directory.path(), 2);
    // When
    let log = SledLog::open(directory.path()).unwrap();
    let read: Vec<Result<Envelope, LogError>> = log.read_from(1).collect();
    // Then
    assert_eq!(read.len(), 2);
    assert!(read[0].is_ok());
    let error = read[1].as_ref().unwrap_err();
    assert!(
        matches!(error, LogError::Corrupt { position: 2, reason } if reason.contains("checksum")),
        "{error}"
    );
    assert!(matches!(
        log.read_at(4),
        Err(LogError::Corrupt { position: 2, .. })
    ));
    assert!(log.read_at(7).unwrap().is_some());
    assert!(matches!(
        log.verify(),
        Err(LogError::Corrupt { position: 2, .. })
    ));
}

#[test]
fn a_log_whose_last_segment_header_is_damaged_is_refused_on_open_with_its_position() {
    // Given: where the log ends is not known without the last header.
    let directory = written(Layout::OneByOne, samples()[..1].to_vec());
    {
        let log = SledLog::open(directory.path()).unwrap();
        append(&log, Layout::Together, samples()[1..6].to_vec());
    }
    damage_header(directory.path(), 2);
    // When
    let opened = SledLog::open(directory.path());
    // Then
    assert!(
        matches!(opened, Err(LogError::Corrupt { position: 2, .. })),
        "{:?}",
        opened.err()
    );
}

#[test]
fn a_missing_record_or_segment_is_reported_as_a_gap() {
    // Given: positions 1–3 alone, 4–6 in a segment, 7–9 in another.
    let directory = written(Layout::OneByOne, samples()[..3].to_vec());
    {
        let log = SledLog::open(directory.path()).unwrap();
        append(&log, Layout::Together, samples()[3..6].to_vec());
        append(&log, Layout::Together, samples()[6..9].to_vec());
    }
    for (removed, gap) in [(2u64, 2u64), (4, 4)] {
        let copy = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(directory.path()).unwrap() {
            copy_tree(&entry.unwrap().path(), copy.path());
        }
        {
            let db = SledLog::open(copy.path()).unwrap().db().clone();
            let events = db.open_tree("events").unwrap();
            assert!(events.remove(removed.to_be_bytes()).unwrap().is_some());
            db.flush().unwrap();
        }
        // When
        let log = SledLog::open(copy.path()).unwrap();
        // Then
        let error = log.verify().unwrap_err();
        assert!(
            matches!(error, LogError::Corrupt { position, .. } if position == gap),
            "{error}"
        );
    }
}

fn copy_tree(from: &std::path::Path, into: &std::path::Path) {
    let target = into.join(from.file_name().unwrap());
    if from.is_dir() {
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            copy_tree(&entry.unwrap().path(), &target);
        }
    } else {
        std::fs::copy(from, target).unwrap();
    }
}
