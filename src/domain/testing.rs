//! The domain's test harness: fixture ids and events, and
//! `given([events]).when(actor, command).then([events])` / `.then_err(error)`.

use super::*;
pub(crate) use steward_events::*;
pub(crate) use uuid::Uuid;

pub(crate) fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

pub(crate) const DAY_SECONDS: i64 = 86_400;

pub(crate) fn start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap()
}

pub(crate) fn days(count: i64) -> Timestamp {
    start().plus_seconds(count * DAY_SECONDS)
}

pub(crate) fn account(n: u128) -> AccountId {
    AccountId::from_uuid(uuid(n))
}

pub(crate) fn project(n: u128) -> ProjectId {
    ProjectId::from_uuid(uuid(1000 + n))
}

pub(crate) fn key(n: u128) -> KeyId {
    KeyId::from_uuid(uuid(2000 + n))
}

pub(crate) fn grant(n: u128) -> GrantId {
    GrantId::from_uuid(uuid(3000 + n))
}

pub(crate) fn digest(n: u8) -> Sha256Digest {
    Sha256Digest::from_bytes([n; 32])
}

pub(crate) fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

pub(crate) fn tag(text: &str) -> Tag {
    Tag::parse(text).unwrap()
}

pub(crate) fn usd(amount: i64) -> Nanodollars {
    Nanodollars::from_usd(amount)
}

pub(crate) const OWNER: u128 = 1;
pub(crate) const ADMIN: u128 = 2;
pub(crate) const MEMBER: u128 = 3;
pub(crate) const OUTSIDER: u128 = 4;
pub(crate) const FRUIT: u128 = 1;
pub(crate) const OTHER: u128 = 2;

pub(crate) fn person(n: u128) -> Actor {
    Actor::Account(account(n))
}

pub(crate) fn key_of(creator: u128, n: u128) -> Actor {
    Actor::Key {
        key_id: key(n),
        account_id: account(creator),
    }
}

pub(crate) fn registered(n: u128, address: &str) -> Event {
    Event::AccountRegistered {
        account_id: account(n),
        email: email(address),
        first_name: "First".into(),
        last_name: "Last".into(),
        password_hash: None,
    }
}

pub(crate) fn joined(project_n: u128, n: u128, role: Role) -> Event {
    Event::MemberJoined {
        project_id: project(project_n),
        account_id: account(n),
        role,
    }
}

pub(crate) fn created(project_n: u128, by: u128) -> Vec<Event> {
    vec![
        Event::ProjectCreated {
            project_id: project(project_n),
            name: "Fruit Company".into(),
            created_by: account(by),
        },
        joined(project_n, by, Role::Owner),
    ]
}

pub(crate) fn key_created(
    project_n: u128,
    by: u128,
    n: u128,
    scopes: &[&str],
    tags: &[&str],
) -> Event {
    Event::ApiKeyCreated {
        project_id: project(project_n),
        key_id: key(n),
        created_by: account(by),
        comment: "backend".into(),
        scopes: scopes.iter().map(|s| Scope::parse(s).unwrap()).collect(),
        tags: tags.iter().map(|t| tag(t)).collect(),
        expires_at: None,
        secret_hash: digest(n as u8),
    }
}

pub(crate) fn granted(
    project_n: u128,
    n: u128,
    source: CreditSource,
    amount: Nanodollars,
    expires_at: Option<Timestamp>,
) -> Event {
    Event::CreditsGranted {
        project_id: project(project_n),
        grant_id: grant(n),
        source,
        amount,
        expires_at,
        reference: None,
    }
}

/// The Fruit Company: an owner, an admin and a member, and an outsider with no project.
pub(crate) fn fruit_company() -> Vec<Event> {
    let mut events = vec![
        registered(OWNER, "olive@fruit.example"),
        registered(ADMIN, "adam@fruit.example"),
        registered(MEMBER, "mia@fruit.example"),
        registered(OUTSIDER, "otto@elsewhere.example"),
    ];
    events.extend(created(FRUIT, OWNER));
    events.push(joined(FRUIT, ADMIN, Role::Admin));
    events.push(joined(FRUIT, MEMBER, Role::Member));
    events
}

pub(crate) fn with(mut base: Vec<Event>, more: impl IntoIterator<Item = Event>) -> Vec<Event> {
    base.extend(more);
    base
}

pub(crate) struct Given {
    state: State,
    known: Known,
    now: Timestamp,
}

pub(crate) fn given(events: impl IntoIterator<Item = Event>) -> Given {
    Given {
        state: State::default(),
        known: Known::default(),
        now: start(),
    }
    .and_at(start(), events)
}

pub(crate) struct Then(pub(crate) Result<Vec<Event>, DomainError>);

impl Given {
    /// More events, recorded at `at`.
    pub(crate) fn and_at(mut self, at: Timestamp, events: impl IntoIterator<Item = Event>) -> Self {
        for event in events {
            evolve(&mut self.state, &event, at);
        }
        self
    }

    pub(crate) fn at(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    pub(crate) fn knowing(mut self, known: Known) -> Self {
        self.known = known;
        self
    }

    pub(crate) fn when(self, actor: Actor, command: Command) -> Then {
        Then(decide(&self.state, &actor, &command, self.known, self.now))
    }
}

impl Then {
    #[track_caller]
    pub(crate) fn then(self, expected: Vec<Event>) {
        assert_eq!(self.0, Ok(expected));
    }

    #[track_caller]
    pub(crate) fn then_err(self, expected: DomainError) {
        assert_eq!(self.0, Err(expected));
    }

    #[track_caller]
    pub(crate) fn events(self) -> Vec<Event> {
        self.0.expect("the command should succeed")
    }
}

pub(crate) fn invite(address: &str, role: Role) -> Command {
    Command::InviteMember {
        project_id: project(FRUIT),
        email: email(address),
        role,
        token_hash: digest(9),
        expires_at: days(7),
    }
}

pub(crate) fn invited(address: &str, role: Role, token: u8, expires_at: Timestamp) -> Event {
    Event::MemberInvited {
        project_id: project(FRUIT),
        email: email(address),
        role,
        invited_by: account(OWNER),
        token_hash: digest(token),
        expires_at,
    }
}

pub(crate) fn create_key(n: u128, scopes: &[&str]) -> Command {
    Command::CreateKey(NewKey {
        project_id: project(FRUIT),
        key_id: key(n),
        secret_hash: digest(n as u8),
        comment: "backend".into(),
        scopes: scopes.iter().map(|s| Scope::parse(s).unwrap()).collect(),
        tags: vec![],
        expires_at: None,
    })
}

pub(crate) fn usage(request: u128, cost: Nanodollars, status_code: u16, tags: &[&str]) -> Command {
    Command::RecordUsage {
        project_id: project(FRUIT),
        report: UsageReport {
            request_id: RequestId::from_uuid(uuid(4000 + request)),
            tags: tags.iter().map(|t| tag(t)).collect(),
            endpoint: Endpoint::Listen,
            method: RequestMethod::Sync,
            model: "nova-3".into(),
            features: steward_events::FeatureSet::EMPTY,
            deployment: Deployment::Hosted,
            units: UsageUnits {
                audio_milliseconds: 60_000,
                ..UsageUnits::default()
            },
            status_code,
            cost,
        },
    }
}

/// The Fruit Company with card, contract and promotional credit and a member's apple key.
pub(crate) fn funded() -> Vec<Event> {
    with(
        fruit_company(),
        [
            granted(FRUIT, 1, CreditSource::Card, usd(10), None),
            granted(FRUIT, 2, CreditSource::Contract, usd(5), Some(days(90))),
            granted(FRUIT, 3, CreditSource::Promotional, usd(2), Some(days(30))),
            key_created(FRUIT, MEMBER, 1, &["member"], &["apple"]),
        ],
    )
}
