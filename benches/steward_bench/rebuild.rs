//! 3. Rebuild, and growth on disk.

use super::*;

pub(super) fn rebuild(mode: &Mode) {
    let sizes: &[u64] = if mode.quick {
        &[20_000]
    } else {
        &[1_000_000, 5_000_000]
    };
    for &events in sizes {
        rebuild_of(mode, events);
    }
}

pub(super) fn rebuild_of(mode: &Mode, events: u64) {
    let directory = tempfile::tempdir().unwrap();
    let log = SledLog::open(directory.path()).unwrap();
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
            // A lone record, or a segment of the records of one append.
            let stored = steward_events::log::Stored::parse(0, &key, value).unwrap();
            for position in stored.first()..=stored.last() {
                let record = stored.record(position).unwrap();
                std::hint::black_box(steward_events::codec::decode(position, record).unwrap());
                decoded += 1;
            }
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
    let log = SledLog::open(directory.path()).unwrap();
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

pub(super) fn directory_bytes(path: &Path) -> u64 {
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
