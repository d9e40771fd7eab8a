//! The PostgreSQL log's tables, created or migrated on open, and its statements.
//!
//! Migrations are numbered and applied once each, in order, in one transaction under an
//! advisory lock, so that nodes starting together do not race; `steward_migrations` records
//! which have been. A migration, once released, is never edited: add the next one.

use super::{database, LogError};
use ::postgres::Client;

/// The advisory lock key held while migrating ("stewmig" in ASCII).
const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"\0stewmig");

/// Every migration, in order: (version, statements).
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE steward_log_head (
         only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
         position bigint NOT NULL CHECK (position >= 0),
         epoch bigint NOT NULL
     );
     INSERT INTO steward_log_head (position, epoch) VALUES (0, 0);
     CREATE TABLE steward_events (
         position bigint PRIMARY KEY CHECK (position > 0),
         stream bytea NOT NULL,
         version bigint NOT NULL CHECK (version > 0),
         record bytea NOT NULL,
         UNIQUE (stream, version)
     );
     CREATE TABLE steward_requests (
         key bytea PRIMARY KEY,
         position bigint NOT NULL
     );",
    ),
    (
        2,
        "CREATE TABLE steward_beside (
             tree text NOT NULL,
             key bytea NOT NULL,
             value bytea NOT NULL,
             PRIMARY KEY (tree, key)
         );
         ALTER TABLE steward_log_head ADD COLUMN writer_url text;",
    ),
];

/// The newest schema version this code knows.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Creates the tables, or brings them up to `SCHEMA_VERSION`. A database migrated by newer
/// code is refused rather than written with an older idea of its tables.
pub fn migrate(client: &mut Client) -> Result<(), LogError> {
    let mut transaction = client.transaction().map_err(database)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(database)?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS steward_migrations (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .map_err(database)?;
    let applied: i32 = transaction
        .query_one(
            "SELECT coalesce(max(version), 0) FROM steward_migrations",
            &[],
        )
        .map_err(database)?
        .get(0);
    if applied > SCHEMA_VERSION {
        return Err(LogError::Database(format!(
            "the database's schema is at version {applied}, newer than this Steward's \
             {SCHEMA_VERSION}"
        )));
    }
    for (version, statements) in MIGRATIONS.iter().filter(|(version, _)| *version > applied) {
        transaction.batch_execute(statements).map_err(database)?;
        transaction
            .execute(
                "INSERT INTO steward_migrations (version) VALUES ($1)",
                &[version],
            )
            .map_err(database)?;
    }
    transaction.commit().map_err(database)
}

/// One append: moves the head row from $1 to $2 in epoch $3, inserts the records and their
/// request-index rows, keeps rows $10–$12 of `steward_beside` and removes rows $13–$14 (no
/// key in both), and notifies `steward_log` with the new head; or (the head or epoch having
/// moved) does nothing. Answers whether the head moved.
pub const APPEND: &str = "
    WITH head AS (
        UPDATE steward_log_head SET position = $2
        WHERE position = $1 AND epoch = $3
        RETURNING position
    ), events AS (
        INSERT INTO steward_events (position, stream, version, record)
        SELECT e.position, e.stream, e.version, e.record
        FROM head, unnest($4::bigint[], $5::bytea[], $6::bigint[], $7::bytea[])
            AS e (position, stream, version, record)
        RETURNING 1
    ), requests AS (
        INSERT INTO steward_requests (key, position)
        SELECT r.key, r.position
        FROM head, unnest($8::bytea[], $9::bigint[]) AS r (key, position)
        RETURNING 1
    ), kept AS (
        INSERT INTO steward_beside (tree, key, value)
        SELECT b.tree, b.key, b.value
        FROM head, unnest($10::text[], $11::bytea[], $12::bytea[]) AS b (tree, key, value)
        ON CONFLICT (tree, key) DO UPDATE SET value = excluded.value
        RETURNING 1
    ), removed AS (
        DELETE FROM steward_beside b
        USING head, unnest($13::text[], $14::bytea[]) AS r (tree, key)
        WHERE b.tree = r.tree AND b.key = r.key
        RETURNING 1
    ), notified AS (
        SELECT pg_notify('steward_log', $2::text) FROM head
    )
    SELECT (SELECT count(*) FROM head), (SELECT count(*) FROM notified)";

/// The version of stream $1: how many events it holds.
pub const STREAM_VERSION: &str =
    "SELECT coalesce(max(version), 0) FROM steward_events WHERE stream = $1";

/// Up to $2 records from position $1 on, none past the head row, in one snapshot.
pub const READ_PAGE: &str = "
    SELECT e.position, e.record
    FROM steward_events e, steward_log_head h
    WHERE e.position >= $1 AND e.position <= h.position
    ORDER BY e.position
    LIMIT $2";

/// The record at $1, if the head row has passed it.
pub const READ_AT: &str = "
    SELECT e.record
    FROM steward_events e, steward_log_head h
    WHERE e.position = $1 AND e.position <= h.position";

/// Up to $3 events of stream $1 from version $2 on.
pub const READ_STREAM: &str = "
    SELECT position, version, record
    FROM steward_events
    WHERE stream = $1 AND version >= $2
    ORDER BY version
    LIMIT $3";
