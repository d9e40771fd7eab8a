//! 2. The key check.

use super::*;

pub(super) fn key_check(mode: &Mode) {
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
