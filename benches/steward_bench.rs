//! Steward's benchmark suite: every figure beside its baseline, measured in the same run.
//!
//! `cargo bench --bench steward_bench` runs the full suite; `-- --quick` a short one (CI runs it
//! so the suite cannot rot). Absolute numbers depend on the machine; the ratios are the point.
//! See BENCHMARKS.md for the latest figures and how to read them.

use axum::{routing::get, routing::post, Json, Router};
use serde_json::{json, Value};
use std::{
    path::Path,
    process::Command,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use steward::{clock::SystemClock, config::ServeSettings, startup::Application};
use steward_events::*;
use steward_projections::{keys::Keys, usage::Day, Projection, Projections};
use uuid::Uuid;

/// The allocator the `steward` binary ships with (mimalloc), so the figures are the binary's
/// and the baselines in this process share it; it also counts, per thread, the bytes allocated
/// and not freed, so that memory per entry is measured exactly rather than from the resident
/// set, which the allocator's reservations and reuse make noisy.
struct CountingMimalloc;

thread_local! {
    static NET_ALLOCATED: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the thread's counter may be gone while the thread is being torn down.
    let _ = NET_ALLOCATED.try_with(|net| net.set(net.get() + delta));
}

// SAFETY: every call is forwarded unchanged to mimalloc; counting allocates nothing.
unsafe impl std::alloc::GlobalAlloc for CountingMimalloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: std::alloc::Layout) {
        count(-(layout.size() as isize));
        unsafe { mimalloc::MiMalloc.dealloc(pointer, layout) }
    }

    unsafe fn realloc(
        &self,
        pointer: *mut u8,
        layout: std::alloc::Layout,
        new_size: usize,
    ) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { mimalloc::MiMalloc.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingMimalloc = CountingMimalloc;

/// Bytes this thread has allocated and not freed.
fn allocated_bytes() -> isize {
    NET_ALLOCATED.with(|net| net.get())
}

struct Mode {
    quick: bool,
    repetitions: usize,
}

/// min / median / max of some measurements.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        values[0],
        values[values.len() / 2],
        values[values.len() - 1],
    )
}

fn show((min, median, max): (f64, f64, f64)) -> String {
    format!("{median:.0} ({min:.0}–{max:.0})")
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

// ------------------------------------------------------------------------------------------
// Events

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

fn project() -> ProjectId {
    ProjectId::from_uuid(id(1))
}

fn usage_event(n: u64) -> Event {
    Event::UsageRecorded {
        project_id: project(),
        request_id: RequestId::from_uuid(id(1_000_000 + u128::from(n))),
        key_id: KeyId::from_uuid(id(10 + u128::from(n % 4))),
        tags: vec![Tag::parse(["apple", "banana", "pear", "plum"][(n % 4) as usize]).unwrap()],
        endpoint: Endpoint::Listen,
        method: RequestMethod::Sync,
        model: "nova-3".into(),
        deployment: Deployment::Hosted,
        units: UsageUnits {
            audio_milliseconds: 60_000,
            ..UsageUnits::default()
        },
        cost: Nanodollars::new(4_300_000),
        status_code: 200,
    }
}

fn proposed(event: Event, at: Timestamp) -> ProposedEvent {
    ProposedEvent {
        event,
        actor: Actor::System,
        correlation_id: Uuid::nil(),
        event_id: EventId::from_uuid(Uuid::now_v7()),
        recorded_at: at,
    }
}

fn commit_of(events: Vec<Event>, at: Timestamp) -> Commit {
    Commit {
        expected_versions: vec![],
        events: events.into_iter().map(|e| proposed(e, at)).collect(),
    }
}

/// The setup events a usage history needs: a project, its owner, four keys, credit.
fn preamble(at: Timestamp) -> Vec<Event> {
    let owner = AccountId::from_uuid(id(2));
    let mut events = vec![
        Event::ProjectCreated {
            project_id: project(),
            name: "bench".into(),
            created_by: owner,
        },
        Event::MemberJoined {
            project_id: project(),
            account_id: owner,
            role: Role::Owner,
        },
        Event::CreditsGranted {
            project_id: project(),
            grant_id: GrantId::from_uuid(id(3)),
            source: CreditSource::Card,
            amount: Nanodollars::from_usd(1_000_000_000),
            expires_at: None,
            reference: None,
        },
    ];
    for key in 0..4u128 {
        events.push(Event::ApiKeyCreated {
            project_id: project(),
            key_id: KeyId::from_uuid(id(10 + key)),
            created_by: owner,
            comment: "bench".into(),
            scopes: vec![Scope::Role(Role::Member)],
            tags: vec![],
            expires_at: None,
            secret_hash: Sha256Digest::from_bytes([key as u8; 32]),
        });
    }
    let _ = at;
    events
}

// ------------------------------------------------------------------------------------------
// 1. Durable appends: Steward's log vs raw sled vs a PostgreSQL event table

/// A key created in the bench project: an event of about a usage record's size that carries no
/// request id, so the log indexes only its stream.
fn key_event(n: u64) -> Event {
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

fn steward_append_rate(batch: usize, events: usize, event: fn(u64) -> Event) -> f64 {
    let directory = tempfile::tempdir().unwrap();
    let log = EventLog::open(directory.path()).unwrap();
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
    written as f64 / started.elapsed().as_secs_f64()
}

fn raw_sled_append_rate(batch: usize, events: usize, event: fn(u64) -> Event) -> f64 {
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
struct Postgres {
    directory: tempfile::TempDir,
    bin: std::path::PathBuf,
}

impl Postgres {
    fn start() -> Option<Self> {
        let bin = [
            "/usr/lib/postgresql/15/bin",
            "/usr/lib/postgresql/16/bin",
            "/usr/lib/postgresql/17/bin",
        ]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|bin| bin.join("initdb").exists())?;
        let directory = tempfile::tempdir().ok()?;
        let as_root = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
        if as_root {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(directory.path())
                .status()
                .ok()?;
        }
        let run = |program: &str, arguments: &[&str]| {
            let mut command = if as_root {
                let mut command = Command::new("runuser");
                command
                    .args(["-u", "postgres", "--"])
                    .arg(bin.join(program));
                command
            } else {
                Command::new(bin.join(program))
            };
            command
                .args(arguments)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .map(|status| status.success())
                .unwrap_or(false)
        };
        let data = directory.path().join("pgdata");
        let socket = directory.path().to_str()?.to_owned();
        if !run(
            "initdb",
            &["-D", data.to_str()?, "-U", "postgres", "-A", "trust"],
        ) {
            return None;
        }
        let options =
            format!("-k {socket} -c listen_addresses='' -c synchronous_commit=on -c fsync=on");
        if !run(
            "pg_ctl",
            &["-D", data.to_str()?, "-o", &options, "-w", "start"],
        ) {
            return None;
        }
        Some(Self { directory, bin })
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(
            &format!(
                "host={} user=postgres dbname=postgres",
                self.directory.path().display()
            ),
            postgres::NoTls,
        )
        .unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.directory.path().join("pgdata");
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        let mut command = if as_root {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            command
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = command
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

/// The way Postgres-based event stores append: one transaction per batch, one row per event,
/// a unique (stream, version) and the commit synchronous.
fn postgres_append_rate(postgres: &Postgres, batch: usize, events: usize) -> f64 {
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

/// Events per append run: long enough in full mode to rise above the machine's noise.
fn append_run_events(mode: &Mode, batch: usize) -> usize {
    if mode.quick {
        (batch * 4).max(200)
    } else {
        (batch * 200).clamp(3000, 200_000)
    }
}

fn appends(mode: &Mode) {
    println!(
        "\n## Durable appends of usage records (events/s, median (min–max) of {})\n",
        mode.repetitions
    );
    println!("| batch | Steward log | raw sled apply_batch+flush | PostgreSQL table | Steward / sled | Steward / PostgreSQL |");
    println!("|---|---|---|---|---|---|");
    let postgres = Postgres::start();
    if postgres.is_none() {
        println!("(PostgreSQL not found or not startable here: its column is empty)");
    }
    for batch in [1usize, 10, 100, 1000] {
        let events = append_run_events(mode, batch);
        let mut ours = Vec::new();
        let mut raw = Vec::new();
        let mut pg = Vec::new();
        for _ in 0..mode.repetitions {
            ours.push(steward_append_rate(batch, events, usage_event));
            raw.push(raw_sled_append_rate(batch, events, usage_event));
            if let Some(postgres) = &postgres {
                pg.push(postgres_append_rate(postgres, batch, events));
            }
        }
        let (ours, raw) = (spread(ours), spread(raw));
        let pg = (!pg.is_empty()).then(|| spread(pg));
        println!(
            "| {batch} | {} | {} | {} | {:.2} | {} |",
            show(ours),
            show(raw),
            pg.map(show).unwrap_or_default(),
            ours.1 / raw.1,
            pg.map(|pg| format!("{:.2}", ours.1 / pg.1))
                .unwrap_or_default()
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

// ------------------------------------------------------------------------------------------
// 2. The key check

fn key_check(mode: &Mode) {
    let keys_count = 100_000u64;
    let mut keys = Keys::default();
    let owner = AccountId::from_uuid(id(2));
    let at = Timestamp::from_unix_micros(1_790_000_000_000_000);
    let mut position = 0;
    let mut apply = |keys: &mut Keys, event: Event| {
        position += 1;
        keys.apply(&Envelope {
            position,
            stream: event.stream(),
            stream_version: position,
            event_id: EventId::from_uuid(Uuid::nil()),
            recorded_at: at,
            actor: Actor::System,
            correlation_id: Uuid::nil(),
            schema_version: 1,
            event,
        });
    };
    apply(
        &mut keys,
        Event::MemberJoined {
            project_id: project(),
            account_id: owner,
            role: Role::Owner,
        },
    );
    let hashes: Vec<Sha256Digest> = (0..keys_count)
        .map(|n| {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&n.to_le_bytes());
            Sha256Digest::from_bytes(bytes)
        })
        .collect();
    let before = allocated_bytes();
    for (n, hash) in hashes.iter().enumerate() {
        apply(
            &mut keys,
            Event::ApiKeyCreated {
                project_id: project(),
                key_id: KeyId::from_uuid(id(100 + n as u128)),
                created_by: owner,
                comment: "bench".into(),
                scopes: vec![Scope::Role(Role::Member)],
                tags: vec![Tag::parse("apple").unwrap()],
                expires_at: None,
                secret_hash: *hash,
            },
        );
    }
    let per_key = (allocated_bytes() - before) as f64 / keys_count as f64;
    let checks = if mode.quick { 200_000 } else { 2_000_000 };
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let now = at.plus_seconds(1);
    let mut rates = Vec::new();
    let mut latencies = Vec::with_capacity(checks);
    for _ in 0..mode.repetitions {
        let started = Instant::now();
        for _ in 0..checks {
            let hash = &hashes[(next() % keys_count) as usize];
            std::hint::black_box(keys.check(std::hint::black_box(hash), now).unwrap());
        }
        rates.push(checks as f64 / started.elapsed().as_secs_f64());
    }
    for _ in 0..checks {
        let hash = &hashes[(next() % keys_count) as usize];
        let started = Instant::now();
        std::hint::black_box(keys.check(std::hint::black_box(hash), now).unwrap());
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!("\n## The key check, in process, {keys_count} keys\n");
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| verifications/s, median (min–max) | {} |",
        show(spread(rates))
    );
    println!("| p50 latency | {:?} |", percentile(&latencies, 0.50));
    println!("| p99 latency | {:?} |", percentile(&latencies, 0.99));
    println!("| memory per key (bytes allocated and kept) | {per_key:.0} bytes |");
}

// ------------------------------------------------------------------------------------------
// Growth in memory: members and usage cells

/// An envelope around `event` at `position`, for feeding projections directly.
fn envelope_of(position: u64, event: Event, at: Timestamp) -> Envelope {
    Envelope {
        position,
        stream: event.stream(),
        stream_version: position,
        event_id: EventId::from_uuid(Uuid::nil()),
        recorded_at: at,
        actor: Actor::System,
        correlation_id: Uuid::nil(),
        schema_version: 1,
        event,
    }
}

fn memory_growth(mode: &Mode) {
    let count: u64 = if mode.quick { 20_000 } else { 200_000 };
    let at = Timestamp::from_unix_micros(1_790_000_000_000_000);
    println!("\n## Memory per read-model entry ({count} of each)\n");
    println!("| entry | bytes |");
    println!("|---|---|");

    // Members: `count` accounts joining 100 projects, in the membership projection.
    let mut membership = steward_projections::membership::Membership::default();
    for n in 0..100u64 {
        let project_id = ProjectId::from_uuid(id(10_000 + u128::from(n)));
        let event = Event::ProjectCreated {
            project_id,
            name: "bench".into(),
            created_by: AccountId::from_uuid(id(2)),
        };
        membership.apply(&envelope_of(n + 1, event, at));
    }
    let before = allocated_bytes();
    for n in 0..count {
        let event = Event::MemberJoined {
            project_id: ProjectId::from_uuid(id(10_000 + u128::from(n % 100))),
            account_id: AccountId::from_uuid(id(1_000_000 + u128::from(n))),
            role: Role::Member,
        };
        membership.apply(&envelope_of(101 + n, event, at));
    }
    let per_member = (allocated_bytes() - before) as f64 / count as f64;
    std::hint::black_box(&membership);
    println!("| member (an entry in its project's member map) | {per_member:.0} |");

    // Usage cells: one request each for `count` distinct (key, model) pairs on one day, so
    // each makes a cell of its own (and its tag's cell).
    let before = allocated_bytes();
    let mut usage = steward_projections::usage::Usage::default();
    for n in 0..count {
        let mut event = usage_event(n);
        if let Event::UsageRecorded { key_id, model, .. } = &mut event {
            *key_id = KeyId::from_uuid(id(10 + u128::from(n % 1000)));
            *model = format!("model-{}", n / 1000);
        }
        usage.apply(&envelope_of(n + 1, event, at));
    }
    let per_cell = (allocated_bytes() - before) as f64 / count as f64;
    std::hint::black_box(&usage);
    println!(
        "| usage-day cell (with its tag's cell and the request's 8-byte log position) | {per_cell:.0} |"
    );
    println!(
        "\n(bytes allocated and kept while applying; the key projection's figure is in the key check table)"
    );
}

// ------------------------------------------------------------------------------------------
// 3. Rebuild, and growth on disk

fn rebuild(mode: &Mode) {
    let sizes: &[u64] = if mode.quick {
        &[20_000]
    } else {
        &[1_000_000, 5_000_000]
    };
    for &events in sizes {
        rebuild_of(mode, events);
    }
}

fn rebuild_of(mode: &Mode, events: u64) {
    let directory = tempfile::tempdir().unwrap();
    let log = EventLog::open(directory.path()).unwrap();
    let start = Timestamp::from_unix_micros(1_790_000_000_000_000);
    log.append(commit_of(preamble(start), start)).unwrap();
    let mut written = 0u64;
    while written < events {
        let commits = (0..1000)
            .map(|i| {
                let n = written + i;
                // Thirty days of traffic, spread evenly.
                let at = start.plus_seconds((n * 30 * 86_400 / events) as i64);
                commit_of(vec![usage_event(n)], at)
            })
            .collect();
        log.append_all(commits).unwrap();
        written += 1000;
    }
    log.db().flush().unwrap();
    let disk = directory_bytes(directory.path());
    let total = log.head();
    let mut ours = Vec::new();
    let mut raw = Vec::new();
    for _ in 0..mode.repetitions {
        let started = Instant::now();
        let projections = Projections::rebuild(&log).unwrap();
        assert_eq!(projections.position(), total);
        ours.push(total as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        let tree = log.db().open_tree("events").unwrap();
        let mut decoded = 0u64;
        for entry in tree.iter() {
            let (key, value) = entry.unwrap();
            let position = u64::from_be_bytes(key.as_ref().try_into().unwrap());
            std::hint::black_box(steward_events::codec::decode(position, &value).unwrap());
            decoded += 1;
        }
        assert_eq!(decoded, total);
        raw.push(total as f64 / started.elapsed().as_secs_f64());
    }
    let (ours, raw) = (spread(ours), spread(raw));
    println!(
        "\n## Rebuild of {total} events (events/s, median (min–max) of {})\n",
        mode.repetitions
    );
    println!("| Steward rebuild (all projections) | raw sled scan + decode | ratio |");
    println!("|---|---|---|");
    println!("| {} | {} | {:.2} |", show(ours), show(raw), ours.1 / raw.1);
    println!(
        "\ndisk: {:.0} bytes per event ({disk} bytes for {total} events)",
        disk as f64 / total as f64
    );

    // Usage queries read one cell per day and group: the same work at any request count.
    let projections = Projections::rebuild(&log).unwrap();
    let usage = projections.usage.project(project()).unwrap();
    let (from, to) = (Day::of(start), Day(Day::of(start).0 + 31));
    let repetitions = 200;
    let started = Instant::now();
    for _ in 0..repetitions {
        std::hint::black_box(usage.by_tag(from, to));
    }
    let per_query = started.elapsed() / repetitions;
    let cells: usize = usage
        .days
        .values()
        .map(|day| day.cells.len() + day.tagged.values().map(|c| c.len()).sum::<usize>())
        .sum();
    println!(
        "usage query over a month with {total} requests recorded: {per_query:?} per query ({cells} day cells read)"
    );

    // Start-up: a full replay into the write model and every projection, then from the
    // checkpoint a graceful stop writes.
    drop(projections);
    drop(log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let clock = Arc::new(SystemClock);
    let started = Instant::now();
    let steward = steward::Steward::open(directory.path(), clock.clone()).unwrap();
    let full = started.elapsed();
    assert_eq!(steward.start_report().replayed, total);
    let started = Instant::now();
    steward.shutdown().unwrap();
    let stop = started.elapsed();
    let checkpoint_bytes = std::fs::metadata(directory.path().join("steward-checkpoint.bin"))
        .map(|metadata| metadata.len())
        .unwrap_or(0);
    // Where start-up from a checkpoint spends its time: opening sled, then the checkpoint.
    let started = Instant::now();
    let log = EventLog::open(directory.path()).unwrap();
    let open_log = started.elapsed();
    let started = Instant::now();
    let loaded = steward::checkpoint::load(directory.path(), &log);
    let load_checkpoint = started.elapsed();
    assert!(loaded.is_ok());
    drop(loaded);
    drop(log);
    let started = Instant::now();
    let steward = steward::Steward::open(directory.path(), clock).unwrap();
    let from_checkpoint = started.elapsed();
    assert_eq!(steward.start_report().checkpoint_position, Some(total));
    drop(steward);
    println!(
        "start-up with {total} events: full replay {full:.2?}, from a checkpoint {from_checkpoint:.2?} ({:.0}% of the full replay; checkpoint {checkpoint_bytes} bytes, written in {stop:.2?} at the graceful stop; of which opening sled {open_log:.2?}, loading the checkpoint {load_checkpoint:.2?})",
        100.0 * from_checkpoint.as_secs_f64() / full.as_secs_f64()
    );
}

fn directory_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                directory_bytes(&entry.path())
            } else {
                metadata.len()
            }
        })
        .sum()
}

// ------------------------------------------------------------------------------------------
// 4. Over HTTP

struct Load {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

/// `clients` loops sending `request` for `seconds`; answers must be 2xx.
async fn load<F, Fut>(clients: usize, seconds: f64, request: F) -> Load
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = reqwest::StatusCode> + Send,
{
    let request = Arc::new(request);
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (request, stop, counter) = (
            Arc::clone(&request),
            Arc::clone(&stop),
            Arc::clone(&counter),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let status = request(n).await;
                assert!(status.is_success(), "{status}");
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Load {
        rate: latencies.len() as f64 / elapsed,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    }
}

/// wrk, if it is installed: the HTTP section's load generator (else a reqwest client in this
/// process, which on two cores is slower than the bare server it loads).
fn find_wrk() -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|directory| directory.join("wrk"))
        .find(|path| path.is_file())
}

/// What one wrk run sends: every request the same, or metering bodies with fresh request ids.
enum WrkBody {
    None,
    Fixed(String),
    Metering,
}

/// One wrk run of `clients` connections for `seconds`; every answer must be 2xx.
async fn wrk_load(
    wrk: &Path,
    clients: usize,
    seconds: u64,
    url: String,
    authorization: &str,
    body: WrkBody,
) -> Load {
    let (method, body_script) = match body {
        WrkBody::None => ("GET", String::new()),
        WrkBody::Fixed(body) => ("POST", format!("wrk.body = '{body}'\n")),
        WrkBody::Metering => {
            // Unique across runs (a random prefix), threads and requests.
            let run = &Uuid::now_v7().simple().to_string()[24..];
            (
                "POST",
                format!(
                    r#"local counter = 0
function request()
  counter = counter + 1
  local body = string.format('{{"request_id":"{run}-%04x-4000-8000-%012x","endpoint":"listen","method":"sync","model":"nova-3","units":{{"audio_seconds":%d}},"code":200,"tags":["batch"]}}', thread_number, counter, 1 + counter % 120)
  return wrk.format(nil, nil, nil, body)
end
"#
                ),
            )
        }
    };
    let script = format!(
        r#"wrk.method = "{method}"
wrk.headers["Authorization"] = "{authorization}"
wrk.headers["Content-Type"] = "application/json"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
{body_script}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-result %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"#
    );
    let directory = tempfile::tempdir().unwrap();
    let script_path = directory.path().join("load.lua");
    std::fs::write(&script_path, script).unwrap();
    let threads = clients.min(2);
    let mut command = Command::new(wrk);
    command
        .arg(format!("-t{threads}"))
        .arg(format!("-c{clients}"))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout=10s")
        .arg("-s")
        .arg(&script_path)
        .arg(&url);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let figures: Vec<u64> = text
        .lines()
        .find_map(|line| line.strip_prefix("wrk-result "))
        .unwrap_or_else(|| panic!("wrk printed no result: {text}"))
        .split_whitespace()
        .map(|figure| figure.parse().unwrap())
        .collect();
    let [requests, micros, p50, p99, errors] = figures[..] else {
        panic!("wrk's result line is malformed: {text}");
    };
    assert_eq!(
        errors, 0,
        "wrk saw failed or non-2xx answers from {url}: {text}"
    );
    Load {
        rate: requests as f64 / (micros as f64 / 1e6),
        p50: Duration::from_micros(p50),
        p99: Duration::from_micros(p99),
    }
}

/// A bare axum server: the same routes, parsing the same JSON, answering the same shapes.
async fn bare_server() -> String {
    let app = Router::new()
        .route(
            "/v1/projects/{project_id}/requests",
            post(|Json(body): Json<Value>| async move {
                Json(json!({"request_id": body["request_id"], "usd": 0.0043, "code": 200, "tags": ["apple"]}))
            }),
        )
        .route(
            "/v1/projects/{project_id}/keys",
            post(|Json(body): Json<Value>| async move {
                Json(json!({"api_key_id": Uuid::now_v7(), "key": "stw_key_x", "comment": body["comment"], "scopes": body["scopes"], "tags": [], "created": "2026-11-26T00:00:00Z"}))
            }),
        )
        .route(
            "/v1/projects/{project_id}",
            get(|| async { Json(json!({"project_id": Uuid::nil(), "name": "Bench", "mip_opt_out": false, "company": null})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

async fn http(mode: &Mode) {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = ServeSettings::embedded_default();
    settings.data_dir = directory.path().join("data");
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.promotional_credit_usd = Nanodollars::from_usd(1_000_000_000);
    let application = Application::build(settings, Arc::new(SystemClock))
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", application.port());
    let state = application.state().clone();
    tokio::spawn(async move {
        application
            .run_until_stopped(std::future::pending())
            .await
            .unwrap()
    });
    let bare = bare_server().await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let signup: Value = client
        .post(format!("{address}/v1/signup"))
        .json(&json!({"email": "bench@fruit.example", "first_name": "B", "last_name": "N", "password": "bench password"}))
        .send().await.unwrap().json().await.unwrap();
    let project = signup["project_id"].as_str().unwrap().to_owned();
    let session = format!("Bearer {}", signup["session_token"].as_str().unwrap());
    let key: Value = client
        .post(format!("{address}/v1/projects/{project}/keys"))
        .header("Authorization", &session)
        .json(&json!({"comment": "bench", "scopes": ["owner"], "tags": ["apple"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key_id: KeyId = key["api_key_id"].as_str().unwrap().parse().unwrap();
    let account_id: AccountId = signup["account_id"].as_str().unwrap().parse().unwrap();
    let key = format!("Token {}", key["key"].as_str().unwrap());
    let seconds: f64 = if mode.quick { 0.5 } else { 4.0 };
    let wrk = find_wrk();
    let metering_body = |n: u64| json!({"request_id": Uuid::now_v7(), "endpoint": "listen", "method": "sync", "model": "nova-3", "units": {"audio_seconds": 1 + n % 120}, "code": 200, "tags": ["batch"]});

    println!(
        "\n## Over HTTP (requests/s median (min–max) of {}; p50/p99 of the median run)\n",
        mode.repetitions
    );
    match &wrk {
        Some(wrk) => println!(
            "load generator: {} ({} s per run; 1 thread for 1 client, else 2)\n",
            wrk.display(),
            seconds.ceil()
        ),
        None => println!(
            "load generator: reqwest in this process (wrk not found; install it for the \
             documented figures)\n"
        ),
    }
    println!("| what | clients | Steward | p50 / p99 | bare axum | p50 / p99 | Steward / bare | mean group-commit batch |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut metering_rates = BTreeMapF::default();
    for (what, path) in [
        ("metered request", "requests"),
        ("key creation", "keys"),
        ("authenticated GET", ""),
    ] {
        for clients in [1usize, 16, 64] {
            let mut ours = Vec::new();
            let mut theirs = Vec::new();
            let stats_before = state.steward.processor_stats();
            for _ in 0..mode.repetitions {
                for (base, results) in [(address.clone(), &mut ours), (bare.clone(), &mut theirs)] {
                    let url = if path.is_empty() {
                        format!("{base}/v1/projects/{project}")
                    } else {
                        format!("{base}/v1/projects/{project}/{path}")
                    };
                    if let Some(wrk) = &wrk {
                        let (authorization, body) = match path {
                            "requests" => (&key, WrkBody::Metering),
                            "keys" => (
                                &session,
                                WrkBody::Fixed(r#"{"comment":"k","scopes":["member"]}"#.into()),
                            ),
                            _ => (&key, WrkBody::None),
                        };
                        let seconds = seconds.ceil() as u64;
                        results
                            .push(wrk_load(wrk, clients, seconds, url, authorization, body).await);
                        continue;
                    }
                    let (client, key, session) = (client.clone(), key.clone(), session.clone());
                    let path = path.to_owned();
                    let result = load(clients, seconds, move |n| {
                        let (client, key, session, url, path) = (
                            client.clone(),
                            key.clone(),
                            session.clone(),
                            url.clone(),
                            path.clone(),
                        );
                        async move {
                            let request = match path.as_str() {
                                "requests" => client
                                    .post(url)
                                    .header("Authorization", key)
                                    .json(&metering_body(n)),
                                "keys" => client
                                    .post(url)
                                    .header("Authorization", session)
                                    .json(&json!({"comment": "k", "scopes": ["member"]})),
                                _ => client.get(url).header("Authorization", key),
                            };
                            request
                                .send()
                                .await
                                .map(|r| r.status())
                                .unwrap_or(reqwest::StatusCode::INTERNAL_SERVER_ERROR)
                        }
                    })
                    .await;
                    results.push(result);
                }
            }
            let stats = state.steward.processor_stats();
            let batches = stats.batches - stats_before.batches;
            let commands = stats.commands - stats_before.commands;
            let median = |mut loads: Vec<Load>| {
                loads.sort_by(|a, b| a.rate.partial_cmp(&b.rate).unwrap());
                let rates = spread(loads.iter().map(|l| l.rate).collect());
                let middle = &loads[loads.len() / 2];
                (rates, middle.p50, middle.p99)
            };
            let (our_rates, our_p50, our_p99) = median(ours);
            let (their_rates, their_p50, their_p99) = median(theirs);
            if what == "metered request" {
                metering_rates.0.push((clients, our_rates.1, their_rates.1));
            }
            let batch = if what == "authenticated GET" || batches == 0 {
                "—".to_owned()
            } else {
                format!("{:.1}", commands as f64 / batches as f64)
            };
            println!(
                "| {what} | {clients} | {} | {our_p50:.1?} / {our_p99:.1?} | {} | {their_p50:.1?} / {their_p99:.1?} | {:.2} | {batch} |",
                show(our_rates), show(their_rates), our_rates.1 / their_rates.1
            );
        }
    }
    if let (Some(one), Some(many)) = (
        metering_rates.0.iter().find(|r| r.0 == 1),
        metering_rates.0.iter().find(|r| r.0 == 64),
    ) {
        println!(
            "\nmetering at 64 clients vs 1 client: {:.1}× (group commit)",
            many.1 / one.1
        );
    }
    println!(
        "largest group-commit batch: {}",
        state.steward.processor_stats().largest_batch
    );

    // The same metering without HTTP: 64 tasks calling the command processor directly, to
    // show what the durable path alone carries on this machine.
    let project_id: ProjectId = project.parse().unwrap();
    let actor = Actor::Key { key_id, account_id };
    let mut rates = Vec::new();
    for _ in 0..mode.repetitions {
        let steward = Arc::clone(&state.steward);
        let result = load(64, seconds, move |n| {
            let steward = Arc::clone(&steward);
            async move {
                let report = steward::domain::UsageReport {
                    request_id: RequestId::from_uuid(Uuid::now_v7()),
                    tags: vec![Tag::parse("batch").unwrap()],
                    endpoint: Endpoint::Listen,
                    method: RequestMethod::Sync,
                    model: "nova-3".into(),
                    deployment: Deployment::Hosted,
                    units: UsageUnits {
                        audio_milliseconds: 1000 * (1 + n % 120),
                        ..UsageUnits::default()
                    },
                    status_code: 200,
                    cost: Nanodollars::new(4_300_000),
                };
                let command = steward::domain::Command::RecordUsage { project_id, report };
                match steward.execute(actor, command).await {
                    Ok(_) => reqwest::StatusCode::OK,
                    Err(_) => reqwest::StatusCode::INTERNAL_SERVER_ERROR,
                }
            }
        })
        .await;
        rates.push(result.rate);
    }
    println!(
        "metering through the command processor without HTTP, 64 tasks: {} commands/s",
        show(spread(rates))
    );
}

#[derive(Default)]
struct BTreeMapF(Vec<(usize, f64, f64)>);

fn main() {
    let quick = std::env::args().any(|argument| argument == "--quick")
        || std::env::var_os("STEWARD_BENCH_QUICK").is_some();
    let mode = Mode {
        quick,
        repetitions: 3,
    };
    println!(
        "# Steward benchmarks ({} mode)",
        if quick { "quick" } else { "full" }
    );
    println!(
        "\nmachine: {} cores; {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |text| text.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_owned())
            )
            .unwrap_or_default()
    );
    // `STEWARD_BENCH_ONLY=appends,keys,memory,rebuild,http` runs some sections only.
    let only = std::env::var("STEWARD_BENCH_ONLY").unwrap_or_default();
    let wanted = |section: &str| only.is_empty() || only.split(',').any(|s| s == section);
    if wanted("appends") {
        appends(&mode);
    }
    if wanted("keys") {
        key_check(&mode);
    }
    if wanted("memory") {
        memory_growth(&mode);
    }
    if wanted("rebuild") {
        rebuild(&mode);
    }
    if wanted("http") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(http(&mode));
    }
}
