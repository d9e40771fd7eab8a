//! The log contract (`suite/`) on the PostgreSQL log, and what is its own: one writer at a
//! time, fencing, and a tail that never passes a transaction still open.
//!
//! Each test starts a throwaway cluster from the machine's PostgreSQL packages, so they are
//! ignored by a plain `cargo test`; `.ci/run` installs PostgreSQL and runs them with
//! `cargo test -p steward-events --test postgres_suite -- --ignored`.

mod suite;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use steward_events::log::postgres::cluster::Cluster;
use steward_events::*;
use support::{commit, project, renamed};

struct Postgres(String);

impl suite::Store for Postgres {
    fn open(&self) -> Box<dyn LogStore> {
        Box::new(PgLog::open(&self.0).unwrap())
    }
}

fn cluster() -> Cluster {
    Cluster::start().unwrap_or_else(|why| panic!("no PostgreSQL cluster: {why}"))
}

fn database(cluster: &Cluster) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("log_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    cluster.create_database(&name).unwrap()
}

fn raw(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

#[test]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
fn every_case_of_the_suite_holds_on_postgresql() {
    let cluster = cluster();
    for (name, case) in suite::CASES {
        eprintln!("case: {name}");
        case(&Postgres(database(&cluster)));
    }
}

#[test]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
fn a_second_node_reads_what_the_writer_appends_but_may_not_append() {
    // Given
    let cluster = cluster();
    let url = database(&cluster);
    let writer = PgLog::open(&url).unwrap();
    // When
    let reader = PgLog::open(&url).unwrap();
    writer
        .append(commit(vec![renamed(project(1), "a")]))
        .unwrap();
    let refused = reader.append(commit(vec![renamed(project(1), "b")]));
    // Then
    assert!(writer.is_writer());
    assert!(!reader.is_writer());
    assert!(matches!(refused, Err(LogError::NotWriter)), "{refused:?}");
    assert_eq!(EventLog::head(&reader).unwrap(), 1);
    let read: Vec<u64> = reader.read_from(1).map(|e| e.unwrap().position).collect();
    assert_eq!(read, [1]);
    assert_eq!(
        EventLog::stream_version(&reader, StreamId::Project(project(1))).unwrap(),
        1
    );
}

#[test]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
fn a_writer_whose_epoch_has_passed_is_refused_and_writes_nothing() {
    // Given: a writer, and an election elsewhere (as a node that took over would hold).
    let cluster = cluster();
    let url = database(&cluster);
    let stale = PgLog::open(&url).unwrap();
    stale
        .append(commit(vec![renamed(project(1), "a")]))
        .unwrap();
    raw(&url)
        .execute("UPDATE steward_log_head SET epoch = epoch + 1", &[])
        .unwrap();
    // When: it appends, with a write beside the log, and then writes beside the log alone.
    let mut beside = BesideWrites::default();
    beside.insert("sessions", b"k".to_vec(), b"v".to_vec());
    let refused = stale.append_all_with(vec![commit(vec![renamed(project(1), "b")])], beside);
    let mut alone = BesideWrites::default();
    alone.insert("sessions", b"j".to_vec(), b"v".to_vec());
    let refused_alone = stale.append_all_with(Vec::new(), alone);
    // Then
    assert!(matches!(refused, Err(LogError::NotWriter)), "{refused:?}");
    assert!(
        matches!(refused_alone, Err(LogError::NotWriter)),
        "{refused_alone:?}"
    );
    assert!(!stale.is_writer());
    let count: i64 = raw(&url)
        .query_one("SELECT count(*) FROM steward_events", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
    assert_eq!(stale.count("sessions").unwrap(), 0);
    assert_eq!(stale.verify().unwrap().events, 1);
}

#[test]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
fn once_the_writer_is_gone_the_next_node_is_elected_in_a_later_epoch_and_continues() {
    // Given
    let cluster = cluster();
    let url = database(&cluster);
    let first = PgLog::open(&url).unwrap();
    first
        .append(commit(vec![renamed(project(1), "a")]))
        .unwrap();
    let first_epoch = first.epoch().unwrap();
    let waiting = PgLog::open(&url).unwrap();
    assert!(!waiting.is_writer());
    // When: the writer's connection ends (its lock with it).
    drop(first);
    let next = PgLog::open(&url).unwrap();
    // Then
    assert!(next.epoch().unwrap() > first_epoch);
    assert!(!waiting.try_elect(Some("http://waiting")).unwrap());
    let appended = next.append(commit(vec![renamed(project(1), "b")])).unwrap();
    assert_eq!(appended[0].position, 2);
    assert_eq!(appended[0].stream_version, 2);
    assert_eq!(waiting.verify().unwrap().events, 2);
}

#[test]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
fn a_transaction_held_open_keeps_the_tail_from_passing_it() {
    // Given: a log whose second event's insert sleeps inside its transaction.
    let cluster = cluster();
    let url = database(&cluster);
    let writer = PgLog::open(&url).unwrap();
    writer
        .append(commit(vec![renamed(project(1), "a")]))
        .unwrap();
    raw(&url)
        .batch_execute(
            "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$;
             CREATE TRIGGER slow_insert BEFORE INSERT ON steward_events
                 FOR EACH ROW WHEN (NEW.position = 2) EXECUTE FUNCTION slow_insert();",
        )
        .unwrap();
    let reader = PgLog::open(&url).unwrap();
    std::thread::scope(|scope| {
        // When: the second append is in flight
        let started = Instant::now();
        let slow = scope.spawn(|| {
            writer
                .append(commit(vec![renamed(project(1), "b")]))
                .unwrap()
        });
        std::thread::sleep(Duration::from_millis(400));
        // Then: a reader's tail stops before it, and another writer's append must wait.
        let tail: Vec<u64> = reader.read_from(1).map(|e| e.unwrap().position).collect();
        assert_eq!(tail, [1]);
        assert!(reader.read_at(2).unwrap().is_none());
        assert_eq!(EventLog::head(&reader).unwrap(), 1);
        let mut other = raw(&url);
        other.batch_execute("SET lock_timeout = '200ms'").unwrap();
        let moved = other.execute("UPDATE steward_log_head SET position = position", &[]);
        assert!(moved.is_err(), "the head row was not held");
        let appended = slow.join().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(1400));
        // And once it commits, the tail reaches it.
        assert_eq!(appended[0].position, 2);
        let tail: Vec<u64> = reader.read_from(1).map(|e| e.unwrap().position).collect();
        assert_eq!(tail, [1, 2]);
    });
}

#[test]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
fn a_follower_is_woken_by_an_append_and_elected_once_the_writer_is_gone() {
    // Given: a writer that says where it takes commands, and a follower listening.
    let cluster = cluster();
    let url = database(&cluster);
    let writer = PgLog::connect(&url).unwrap();
    assert!(writer.try_elect(Some("http://one:3000")).unwrap());
    let follower = PgLog::connect(&url).unwrap();
    assert!(!follower.try_elect(Some("http://two:3000")).unwrap());
    assert_eq!(
        follower.writer_url().unwrap().as_deref(),
        Some("http://one:3000")
    );
    follower.wait_for_append(Duration::from_millis(10)).unwrap();
    // When: the writer appends while the follower waits.
    std::thread::scope(|scope| {
        let waited = scope.spawn(|| {
            let started = Instant::now();
            follower.wait_for_append(Duration::from_secs(20)).unwrap();
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(200));
        writer
            .append(commit(vec![renamed(project(1), "a")]))
            .unwrap();
        // Then it is woken well before its timeout, and reads the event.
        assert!(waited.join().unwrap() < Duration::from_secs(10));
    });
    assert_eq!(EventLog::head(&follower).unwrap(), 1);
    // And once the writer is gone, the follower is elected and says where it is.
    drop(writer);
    assert!(follower.try_elect(Some("http://two:3000")).unwrap());
    assert_eq!(
        follower.writer_url().unwrap().as_deref(),
        Some("http://two:3000")
    );
    let appended = follower
        .append(commit(vec![renamed(project(1), "b")]))
        .unwrap();
    assert_eq!(appended[0].position, 2);
}

#[test]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
fn after_the_server_restarts_every_node_connects_again_and_the_log_continues() {
    // Given: a writer that has appended, and a follower listening.
    let cluster = cluster();
    let url = database(&cluster);
    let writer = PgLog::open(&url).unwrap();
    writer
        .append(commit(vec![renamed(project(1), "a")]))
        .unwrap();
    let first_epoch = writer.epoch().unwrap();
    let follower = PgLog::connect(&url).unwrap();
    follower.wait_for_append(Duration::from_millis(10)).unwrap();
    // When: the server crashes and comes back, cutting every session.
    cluster.restart().unwrap();
    // Then: reads work at once, on connections opened again.
    let read: Vec<u64> = follower.read_from(1).map(|e| e.unwrap().position).collect();
    assert_eq!(read, [1]);
    assert_eq!(EventLog::head(&writer).unwrap(), 1);
    // The writer's lock went with its session: its next append fails, writes nothing, and
    // it is no longer the writer.
    let failed = writer.append(commit(vec![renamed(project(1), "lost")]));
    assert!(matches!(failed, Err(LogError::Database(_))), "{failed:?}");
    assert!(!writer.is_writer());
    assert_eq!(EventLog::head(&follower).unwrap(), 1);
    // The listener connects again after at most one failed wait.
    if follower.wait_for_append(Duration::from_millis(10)).is_err() {
        follower.wait_for_append(Duration::from_millis(10)).unwrap();
    }
    // And either node can be elected, in a later epoch, and continue the positions.
    assert!(writer.try_elect(Some("http://one:3000")).unwrap());
    assert!(writer.epoch().unwrap() > first_epoch);
    assert!(!follower.try_elect(Some("http://two:3000")).unwrap());
    let appended = writer
        .append(commit(vec![renamed(project(1), "b")]))
        .unwrap();
    assert_eq!(appended[0].position, 2);
    assert_eq!(appended[0].stream_version, 2);
    assert_eq!(follower.verify().unwrap().events, 2);
}
