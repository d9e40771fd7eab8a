//! 1. Durable appends: Steward's log vs raw sled vs a PostgreSQL event table.

use super::*;
use steward_events::log::postgres::cluster::Cluster;

/// A key created in the bench project: an event of about a usage record's size that carries no
/// request id, so the log indexes only its stream.
pub(super) fn key_event(n: u64) -> Event {
    Event::ApiKeyCreated {
        project_id: project(),
        key_id: KeyId::from_uuid(id(5_000_000 + u128::from(n))),
        created_by: AccountId::from_uuid(id(2)),
        comment: "bench key".into(),
        scopes: vec![Scope::Role(Role::Member)],
        tags: vec![Tag::parse("apple").unwrap()],
        expires_at: None,
        secret_hash: Sha256Digest::from_bytes([(n % 251) as u8; 32]),
    }
}

pub(super) fn steward_append_rate(batch: usize, events: usize, event: fn(u64) -> Event) -> f64 {
    let directory = tempfile::tempdir().unwrap();
    let log = SledLog::open(directory.path()).unwrap();
    // The indexes are written just after each append: count that work too.
    append_rate(&log, batch, events, event, || log.wait_for_index().unwrap())
}

/// The PostgreSQL log (`PgLog`): one statement and one commit per append.
pub(super) fn pg_log_append_rate(postgres: &Postgres, batch: usize, events: usize) -> f64 {
    let log = PgLog::open(&postgres.database()).unwrap();
    append_rate(&log, batch, events, usage_event, || {})
}

/// Appends of `batch` one-event commits until `events`, then `finish`; events per second.
fn append_rate(
    log: &dyn EventLog,
    batch: usize,
    events: usize,
    event: fn(u64) -> Event,
    finish: impl FnOnce(),
) -> f64 {
    let at = Timestamp::from_unix_micros(1_790_000_000_000_000);
    log.append(commit_of(preamble(at), at)).unwrap();
    let started = Instant::now();
    let mut written = 0;
    while written < events {
        let commits = (0..batch)
            .map(|i| commit_of(vec![event((written + i) as u64)], at))
            .collect();
        for outcome in log.append_all(commits).unwrap() {
            outcome.unwrap();
        }
        written += batch;
    }
    finish();
    written as f64 / started.elapsed().as_secs_f64()
}

pub(super) fn raw_sled_append_rate(batch: usize, events: usize, event: fn(u64) -> Event) -> f64 {
    let directory = tempfile::tempdir().unwrap();
    let db = sled::open(directory.path()).unwrap();
    let tree = db.open_tree("events").unwrap();
    let at = Timestamp::from_unix_micros(1_790_000_000_000_000);
    let started = Instant::now();
    let mut written = 0u64;
    while (written as usize) < events {
        let mut sled_batch = sled::Batch::default();
        for i in 0..batch as u64 {
            let position = written + i + 1;
            // The same bytes Steward stores: the encoded record.
            let record = steward_events::codec::encode(&Envelope {
                position,
                stream: StreamId::Project(project()),
                stream_version: position,
                event_id: EventId::from_uuid(Uuid::now_v7()),
                recorded_at: at,
                actor: Actor::System,
                correlation_id: Uuid::nil(),
                schema_version: 1,
                event: event(position),
            })
            .unwrap();
            sled_batch.insert(&position.to_be_bytes()[..], record);
        }
        tree.apply_batch(sled_batch).unwrap();
        db.flush().unwrap();
        written += batch as u64;
    }
    written as f64 / started.elapsed().as_secs_f64()
}

/// A throwaway PostgreSQL cluster from the machine's packages, on a Unix socket.
pub(super) struct Postgres(Cluster);

impl Postgres {
    fn start() -> Option<Self> {
        Cluster::start().ok().map(Self)
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.0.url("postgres"), postgres::NoTls).unwrap()
    }

    /// A fresh database for one run of the PostgreSQL log.
    fn database(&self) -> String {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.create_database(&format!("bench_log_{n}")).unwrap()
    }
}

/// The way Postgres-based event stores append: one transaction per batch, one row per event,
/// a unique (stream, version) and the commit synchronous.
pub(super) fn postgres_append_rate(postgres: &Postgres, batch: usize, events: usize) -> f64 {
    let mut client = postgres.client();
    client
        .batch_execute(
            "DROP TABLE IF EXISTS events;
             CREATE TABLE events (position bigserial PRIMARY KEY, stream text NOT NULL,
               version bigint NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(),
               payload bytea NOT NULL, UNIQUE (stream, version));",
        )
        .unwrap();
    let at = Timestamp::from_unix_micros(1_790_000_000_000_000);
    let payload = steward_events::codec::encode(&Envelope {
        position: 1,
        stream: StreamId::Project(project()),
        stream_version: 1,
        event_id: EventId::from_uuid(Uuid::now_v7()),
        recorded_at: at,
        actor: Actor::System,
        correlation_id: Uuid::nil(),
        schema_version: 1,
        event: usage_event(1),
    })
    .unwrap();
    let statement = client
        .prepare("INSERT INTO events (stream, version, payload) VALUES ($1, $2, $3)")
        .unwrap();
    let stream = format!("project/{}", Uuid::now_v7());
    let started = Instant::now();
    let mut written = 0i64;
    while (written as usize) < events {
        let mut transaction = client.transaction().unwrap();
        for i in 0..batch as i64 {
            transaction
                .execute(&statement, &[&stream, &(written + i + 1), &payload])
                .unwrap();
        }
        transaction.commit().unwrap();
        written += batch as i64;
    }
    written as f64 / started.elapsed().as_secs_f64()
}

/// A batched single-writer PostgreSQL append: the log's head position in a row locked for
/// the batch, and one `INSERT … SELECT` of the whole batch (arrays unnested), the commit
/// synchronous. The fairest PostgreSQL rival of a group commit.
pub(super) fn postgres_batched_append_rate(
    postgres: &Postgres,
    batch: usize,
    events: usize,
) -> f64 {
    let mut client = postgres.client();
    client
        .batch_execute(
            "DROP TABLE IF EXISTS batched_events; DROP TABLE IF EXISTS head;
             CREATE TABLE batched_events (position bigint PRIMARY KEY, stream text NOT NULL,
               version bigint NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(),
               payload bytea NOT NULL, UNIQUE (stream, version));
             CREATE TABLE head (id int PRIMARY KEY, position bigint NOT NULL);
             INSERT INTO head VALUES (1, 0);",
        )
        .unwrap();
    let at = Timestamp::from_unix_micros(1_790_000_000_000_000);
    let payload = |n: u64| {
        steward_events::codec::encode(&Envelope {
            position: n,
            stream: StreamId::Project(project()),
            stream_version: n,
            event_id: EventId::from_uuid(Uuid::now_v7()),
            recorded_at: at,
            actor: Actor::System,
            correlation_id: Uuid::nil(),
            schema_version: 1,
            event: usage_event(n),
        })
        .unwrap()
    };
    let head = client
        .prepare("SELECT position FROM head WHERE id = 1 FOR UPDATE")
        .unwrap();
    let insert = client
        .prepare(
            "INSERT INTO batched_events (position, stream, version, payload)
             SELECT $1 + n, $2, $3 + n, p
             FROM unnest($4::bytea[]) WITH ORDINALITY AS batch (p, n)",
        )
        .unwrap();
    let advance = client
        .prepare("UPDATE head SET position = $1 WHERE id = 1")
        .unwrap();
    let stream = format!("project/{}", Uuid::now_v7());
    let started = Instant::now();
    let mut written = 0i64;
    while (written as usize) < events {
        let payloads: Vec<Vec<u8>> = (0..batch as u64)
            .map(|i| payload(written as u64 + i + 1))
            .collect();
        let mut transaction = client.transaction().unwrap();
        let position: i64 = transaction.query_one(&head, &[]).unwrap().get(0);
        transaction
            .execute(&insert, &[&position, &stream, &written, &payloads])
            .unwrap();
        transaction
            .execute(&advance, &[&(position + batch as i64)])
            .unwrap();
        transaction.commit().unwrap();
        written += batch as i64;
    }
    written as f64 / started.elapsed().as_secs_f64()
}

/// Events per append run: long enough in full mode to rise above the machine's noise.
pub(super) fn append_run_events(mode: &Mode, batch: usize) -> usize {
    if mode.quick {
        (batch * 4).max(200)
    } else {
        (batch * 200).clamp(3000, 200_000)
    }
}

pub(super) fn appends(mode: &Mode) {
    println!(
        "\n## Durable appends of usage records (events/s, median (min–max) of {})\n",
        mode.repetitions
    );
    println!("| batch | Steward log | raw sled apply_batch+flush | PostgreSQL row by row | PostgreSQL batched | Steward's PostgreSQL log | Steward / sled | Steward / PostgreSQL row by row | Steward / PostgreSQL batched | Steward's PostgreSQL log / PostgreSQL batched |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let postgres = Postgres::start();
    if postgres.is_none() {
        println!("(PostgreSQL not found or not startable here: its column is empty)");
    }
    for batch in [1usize, 10, 100, 1000] {
        let events = append_run_events(mode, batch);
        let mut ours = Vec::new();
        let mut raw = Vec::new();
        let mut pg = Vec::new();
        let mut pg_batched = Vec::new();
        let mut pg_log = Vec::new();
        for _ in 0..mode.repetitions {
            ours.push(steward_append_rate(batch, events, usage_event));
            raw.push(raw_sled_append_rate(batch, events, usage_event));
            if let Some(postgres) = &postgres {
                pg.push(postgres_append_rate(postgres, batch, events));
                pg_batched.push(postgres_batched_append_rate(postgres, batch, events));
                pg_log.push(pg_log_append_rate(postgres, batch, events));
            }
        }
        let (ours, raw) = (spread(ours), spread(raw));
        let pg = (!pg.is_empty()).then(|| spread(pg));
        let pg_batched = (!pg_batched.is_empty()).then(|| spread(pg_batched));
        let pg_log = (!pg_log.is_empty()).then(|| spread(pg_log));
        let ratio = |ours: (f64, f64, f64), pg: Option<(f64, f64, f64)>| {
            pg.map(|pg| format!("{:.2}", ours.1 / pg.1))
                .unwrap_or_default()
        };
        println!(
            "| {batch} | {} | {} | {} | {} | {} | {:.2} | {} | {} | {} |",
            show(ours),
            show(raw),
            pg.map(show).unwrap_or_default(),
            pg_batched.map(show).unwrap_or_default(),
            pg_log.map(show).unwrap_or_default(),
            ours.1 / raw.1,
            ratio(ours, pg),
            ratio(ours, pg_batched),
            pg_log
                .map(|pg_log| ratio(pg_log, pg_batched))
                .unwrap_or_default(),
        );
    }

    // The same without request ids: events the log indexes by stream only.
    println!(
        "\n## Durable appends of key creations, no request id (events/s, median (min–max) of {})\n",
        mode.repetitions
    );
    println!("| batch | Steward log | raw sled apply_batch+flush | Steward / sled |");
    println!("|---|---|---|---|");
    for batch in [1usize, 10, 100, 1000] {
        let events = append_run_events(mode, batch);
        let mut ours = Vec::new();
        let mut raw = Vec::new();
        for _ in 0..mode.repetitions {
            ours.push(steward_append_rate(batch, events, key_event));
            raw.push(raw_sled_append_rate(batch, events, key_event));
        }
        let (ours, raw) = (spread(ours), spread(raw));
        println!(
            "| {batch} | {} | {} | {:.2} |",
            show(ours),
            show(raw),
            ours.1 / raw.1
        );
    }
}
