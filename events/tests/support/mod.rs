//! One fixed, fully populated sample of every event variant, shared by the event tests.
#![allow(dead_code)] // Each test binary uses its own part of this module.

use steward_events::*;
use uuid::Uuid;

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_micros((1_790_000_000 + seconds) * 1_000_000)
}

pub fn samples() -> Vec<Event> {
    let account_id = AccountId::from_uuid(id(1));
    let project_id = ProjectId::from_uuid(id(2));
    let other_project_id = ProjectId::from_uuid(id(3));
    let email = Email::parse("Ann.Lee@fruit.example").unwrap();
    let digest = Sha256Digest::from_bytes([7; 32]);
    let portion = TransferPortion {
        from_grant_id: GrantId::from_uuid(id(10)),
        to_grant_id: GrantId::from_uuid(id(11)),
        source: CreditSource::Promotional,
        amount: Nanodollars::from_usd(25),
        expires_at: Some(at(31_536_000)),
        from_grant_remaining: Nanodollars::from_usd(175),
    };
    vec![
        Event::AccountRegistered {
            account_id,
            email: email.clone(),
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        },
        Event::AccountDeleted { account_id },
        Event::ProjectCreated {
            project_id,
            name: "Fruit Company".into(),
            created_by: account_id,
        },
        Event::ProjectRenamed {
            project_id,
            name: "Fruit Co.".into(),
        },
        Event::ProjectCompanyChanged {
            project_id,
            company: "Fruit Company Ltd".into(),
        },
        Event::ProjectDeleted { project_id },
        Event::MemberInvited {
            project_id,
            email: email.clone(),
            role: Role::Admin,
            invited_by: account_id,
            token_hash: digest,
            expires_at: at(604_800),
        },
        Event::InvitationResent {
            project_id,
            email: email.clone(),
            token_hash: Sha256Digest::from_bytes([8; 32]),
            expires_at: at(1_209_600),
        },
        Event::InvitationRevoked {
            project_id,
            email: email.clone(),
        },
        Event::InvitationAccepted {
            project_id,
            email,
            account_id,
        },
        Event::MemberJoined {
            project_id,
            account_id,
            role: Role::Member,
        },
        Event::RoleChanged {
            project_id,
            account_id,
            from: Role::Member,
            to: Role::Owner,
        },
        Event::MemberRemoved {
            project_id,
            account_id,
            reason: RemovalReason::Kicked,
        },
        Event::MemberLeft {
            project_id,
            account_id,
        },
        Event::ApiKeyCreated {
            project_id,
            key_id: KeyId::from_uuid(id(4)),
            created_by: account_id,
            comment: "apple backend".into(),
            scopes: vec![
                Scope::Role(Role::Member),
                Scope::Permission(Permission::BillingRead),
            ],
            tags: vec![Tag::parse("apple").unwrap()],
            expires_at: Some(at(86_400)),
            secret_hash: digest,
        },
        Event::ApiKeyDeleted {
            project_id,
            key_id: KeyId::from_uuid(id(4)),
        },
        Event::CreditsGranted {
            project_id,
            grant_id: GrantId::from_uuid(id(10)),
            source: CreditSource::Contract,
            amount: Nanodollars::new(1_500_000_000_001),
            expires_at: Some(at(63_072_000)),
            reference: Some("PO-1234".into()),
        },
        Event::CreditsTransferredOut {
            transfer_id: TransferId::from_uuid(id(12)),
            from_project_id: project_id,
            to_project_id: other_project_id,
            portions: vec![portion.clone()],
        },
        Event::CreditsTransferredIn {
            transfer_id: TransferId::from_uuid(id(12)),
            from_project_id: project_id,
            to_project_id: other_project_id,
            portions: vec![portion],
        },
        Event::CreditsConsumed {
            project_id,
            request_id: RequestId::from_uuid(id(13)),
            portions: vec![ConsumedPortion {
                grant_id: GrantId::from_uuid(id(10)),
                amount: Nanodollars::new(4_300_000),
                remaining: Nanodollars::new(1_499_995_700_001),
            }],
        },
        Event::CreditsExpired {
            project_id,
            grant_id: GrantId::from_uuid(id(10)),
            amount: Nanodollars::from_usd(3),
        },
        Event::UsageRecorded {
            project_id,
            request_id: RequestId::from_uuid(id(13)),
            key_id: KeyId::from_uuid(id(4)),
            tags: vec![Tag::parse("apple").unwrap(), Tag::parse("batch-7").unwrap()],
            endpoint: Endpoint::Listen,
            method: RequestMethod::Streaming,
            model: "nova-3".into(),
            deployment: Deployment::SelfHosted,
            units: UsageUnits {
                audio_milliseconds: 61_500,
                characters: 0,
                tokens_in: 12,
                tokens_out: 34,
            },
            cost: Nanodollars::new(4_300_000),
            status_code: 200,
            features: vec![Feature::Diarize, Feature::SmartFormat],
        },
        Event::ModelAccessGranted {
            project_id,
            model_id: ModelId::from_uuid(id(14)),
        },
        Event::ModelAccessRevoked {
            project_id,
            model_id: ModelId::from_uuid(id(15)),
        },
        Event::ApiKeyOwnerChanged {
            project_id,
            key_id: KeyId::from_uuid(id(4)),
            from: account_id,
            to: AccountId::from_uuid(id(16)),
        },
        Event::ApiKeyRotated {
            project_id,
            key_id: KeyId::from_uuid(id(4)),
            secret_hash: Sha256Digest::from_bytes([9; 32]),
            previous_secret_expires_at: at(86_400),
        },
        Event::TagBudgetSet {
            project_id,
            tag: Tag::parse("apple").unwrap(),
            monthly: Nanodollars::from_usd(150),
            hard: true,
        },
        Event::TagBudgetRemoved {
            project_id,
            tag: Tag::parse("apple").unwrap(),
        },
        Event::TagBudgetPassed {
            project_id,
            tag: Tag::parse("batch-7").unwrap(),
            month_start: at(0),
            monthly: Nanodollars::from_usd(20),
            spent: Nanodollars::new(20_004_300_000),
        },
    ]
}

/// The kinds schema version 2 added (version 1 knew every earlier one).
pub const VERSION_2_KINDS: &[&str] = &["model_access_granted", "model_access_revoked"];

/// The kinds schema version 3 added.
pub const VERSION_3_KINDS: &[&str] = &[
    "api_key_owner_changed",
    "api_key_rotated",
    "tag_budget_set",
    "tag_budget_removed",
    "tag_budget_passed",
];

/// The sample as a schema version 2 record held it; `None` for the variants version 2 did not
/// know.
pub fn as_version_2(event: Event) -> Option<Event> {
    (!VERSION_3_KINDS.contains(&event.kind())).then_some(event)
}

/// The sample as a schema version 1 record held it: a version 1 `UsageRecorded` used no
/// features; `None` for the variants version 1 did not know.
pub fn as_version_1(event: Event) -> Option<Event> {
    let mut event = as_version_2(event)?;
    if VERSION_2_KINDS.contains(&event.kind()) {
        return None;
    }
    if let Event::UsageRecorded { features, .. } = &mut event {
        features.clear();
    }
    Some(event)
}

/// The sample event wrapped in a fixed envelope at `position`, at the current schema version.
pub fn sample_envelope(position: u64, event: Event) -> Envelope {
    Envelope {
        position,
        stream: event.stream(),
        stream_version: 1,
        event_id: EventId::from_uuid(id(100 + u128::from(position))),
        recorded_at: at(position as i64),
        actor: Actor::Key {
            key_id: KeyId::from_uuid(id(4)),
            account_id: AccountId::from_uuid(id(1)),
        },
        correlation_id: id(200),
        schema_version: codec::SCHEMA_VERSION,
        event,
    }
}

pub fn proposed(event: Event) -> ProposedEvent {
    ProposedEvent {
        event,
        actor: Actor::System,
        correlation_id: id(900),
        event_id: EventId::from_uuid(uuid::Uuid::now_v7()),
        recorded_at: at(0),
    }
}

pub fn project(n: u128) -> ProjectId {
    ProjectId::from_uuid(id(n))
}

pub fn renamed(project_id: ProjectId, name: &str) -> Event {
    Event::ProjectRenamed {
        project_id,
        name: name.into(),
    }
}

pub fn commit(events: Vec<Event>) -> Commit {
    Commit {
        expected_versions: vec![],
        events: events.into_iter().map(proposed).collect(),
    }
}
