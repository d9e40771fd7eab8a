//! Events and commits the sections share.

use super::*;

pub(super) fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

pub(super) fn project() -> ProjectId {
    ProjectId::from_uuid(id(1))
}

pub(super) fn usage_event(n: u64) -> Event {
    let key_id = KeyId::from_uuid(id(10 + u128::from(n % 4)));
    usage_event_of(project(), key_id, n, Nanodollars::new(4_300_000))
}

/// A minute of Nova by `key_id` in `project_id`, tagged with one of four customers.
pub(super) fn usage_event_of(
    project_id: ProjectId,
    key_id: KeyId,
    n: u64,
    cost: Nanodollars,
) -> Event {
    Event::UsageRecorded {
        project_id,
        request_id: RequestId::from_uuid(id(1_000_000 + u128::from(n))),
        key_id,
        tags: vec![Tag::parse(["apple", "banana", "pear", "plum"][(n % 4) as usize]).unwrap()],
        endpoint: Endpoint::Listen,
        method: RequestMethod::Sync,
        model: "nova-3".into(),
        deployment: Deployment::Hosted,
        units: UsageUnits {
            audio_milliseconds: 60_000,
            ..UsageUnits::default()
        },
        cost,
        status_code: 200,
        features: vec![Feature::SmartFormat],
    }
}

pub(super) fn proposed(event: Event, at: Timestamp) -> ProposedEvent {
    ProposedEvent {
        event,
        actor: Actor::System,
        correlation_id: Uuid::nil(),
        event_id: EventId::from_uuid(Uuid::now_v7()),
        recorded_at: at,
    }
}

pub(super) fn commit_of(events: Vec<Event>, at: Timestamp) -> Commit {
    Commit {
        expected_versions: vec![],
        events: events.into_iter().map(|e| proposed(e, at)).collect(),
    }
}

/// The setup events a usage history needs: a project, its owner, four keys, credit.
pub(super) fn preamble(at: Timestamp) -> Vec<Event> {
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
