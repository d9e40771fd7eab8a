//! Growth in memory: members and usage cells.

use super::*;

/// An envelope around `event` at `position`, for feeding projections directly.
pub(super) fn envelope_of(position: u64, event: Event, at: Timestamp) -> Envelope {
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

pub(super) fn memory_growth(mode: &Mode) {
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
