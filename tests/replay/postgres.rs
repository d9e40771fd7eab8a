//! `steward migrate` and `steward verify --postgres-url`, against a throwaway PostgreSQL
//! cluster (ignored by a plain `cargo test`; `.ci/run` runs them with `--ignored`).

use crate::helpers::{demo, stdout, steward, DemoData};
use std::process::Output;
use steward_events::{log::postgres::cluster::Cluster, EventLog, PgLog, SledLog};

/// The demo's data directory, made on a runtime of its own: the PostgreSQL client these
/// tests use blocks, and may not run on one.
fn demo_data() -> DemoData {
    tokio::runtime::Runtime::new().unwrap().block_on(demo())
}

fn lines(output: &Output) -> Vec<String> {
    stdout(output).lines().map(str::to_owned).collect()
}

#[test]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
fn migrate_copies_a_sled_log_into_postgresql_whole_and_verify_checks_it() {
    // Given: the demo's data directory, and an empty database.
    let data = demo_data();
    let cluster = Cluster::start().unwrap();
    let url = cluster.create_database("migrated").unwrap();
    let path = data.path().to_str().unwrap();
    let events = data.report.events;
    // When
    let migrated = steward(&["migrate", "--from-data-dir", path, "--postgres-url", &url]);
    // Then
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let printed = lines(&migrated);
    assert_eq!(printed[0], format!("migrated {events} events"));
    assert!(
        printed[1].starts_with(&format!("ok: {events} events, ")),
        "{printed:?}"
    );
    assert_eq!(
        printed[2],
        "read models equal the original's: 7 projections"
    );
    // Every envelope as it was: positions, versions, ids, times and actors.
    let copied: Vec<_> = PgLog::open(&url)
        .unwrap()
        .read_from(1)
        .map(Result::unwrap)
        .collect();
    let original: Vec<_> = SledLog::open(data.path())
        .unwrap()
        .read_from(1)
        .map(Result::unwrap)
        .collect();
    assert_eq!(copied, original);
    // And verify reads the PostgreSQL log as it reads a data directory's.
    let verified = steward(&["verify", "--postgres-url", &url]);
    let local = steward(&["verify", "--data-dir", path]);
    assert!(verified.status.success());
    assert_eq!(lines(&verified), lines(&local));
}

#[test]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
fn migrate_into_a_log_that_is_not_empty_is_refused_and_changes_nothing() {
    // Given: a database already migrated into.
    let data = demo_data();
    let cluster = Cluster::start().unwrap();
    let url = cluster.create_database("taken").unwrap();
    let path = data.path().to_str().unwrap();
    assert!(
        steward(&["migrate", "--from-data-dir", path, "--postgres-url", &url])
            .status
            .success()
    );
    // When
    let again = steward(&["migrate", "--from-data-dir", path, "--postgres-url", &url]);
    // Then
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains(&format!(
            "the PostgreSQL log already holds {} events; migrate needs an empty one",
            data.report.events
        )),
        "{stderr}"
    );
    let verified = steward(&["verify", "--postgres-url", &url]);
    assert!(lines(&verified)[0].starts_with(&format!("ok: {} events, ", data.report.events)));
    // A data directory that is not there is named, and nothing is created in its place.
    let missing = data.path().join("no such directory");
    let from_nowhere = steward(&[
        "migrate",
        "--from-data-dir",
        missing.to_str().unwrap(),
        "--postgres-url",
        &cluster.create_database("from_nowhere").unwrap(),
    ]);
    assert!(!from_nowhere.status.success());
    assert!(
        String::from_utf8_lossy(&from_nowhere.stderr).contains("no data directory at"),
        "{}",
        String::from_utf8_lossy(&from_nowhere.stderr)
    );
    assert!(!missing.exists());
    // A database that cannot be reached is named as such.
    let unreachable = steward(&["verify", "--postgres-url", "host=/nonexistent dbname=x"]);
    assert!(!unreachable.status.success());
    assert!(
        String::from_utf8_lossy(&unreachable.stderr).contains("database: "),
        "{}",
        String::from_utf8_lossy(&unreachable.stderr)
    );
}
