//! The rules, one test each: given these events, when this command, then these events (or
//! this error).

use super::*;
use steward_events::*;
use uuid::Uuid;

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

const DAY_SECONDS: i64 = 86_400;

fn start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap()
}

fn days(count: i64) -> Timestamp {
    start().plus_seconds(count * DAY_SECONDS)
}

fn account(n: u128) -> AccountId {
    AccountId::from_uuid(uuid(n))
}

fn project(n: u128) -> ProjectId {
    ProjectId::from_uuid(uuid(1000 + n))
}

fn key(n: u128) -> KeyId {
    KeyId::from_uuid(uuid(2000 + n))
}

fn grant(n: u128) -> GrantId {
    GrantId::from_uuid(uuid(3000 + n))
}

fn digest(n: u8) -> Sha256Digest {
    Sha256Digest::from_bytes([n; 32])
}

fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

fn tag(text: &str) -> Tag {
    Tag::parse(text).unwrap()
}

fn usd(amount: i64) -> Nanodollars {
    Nanodollars::from_usd(amount)
}

const OWNER: u128 = 1;
const ADMIN: u128 = 2;
const MEMBER: u128 = 3;
const OUTSIDER: u128 = 4;
const FRUIT: u128 = 1;
const OTHER: u128 = 2;

fn person(n: u128) -> Actor {
    Actor::Account(account(n))
}

fn key_of(creator: u128, n: u128) -> Actor {
    Actor::Key {
        key_id: key(n),
        account_id: account(creator),
    }
}

fn registered(n: u128, address: &str) -> Event {
    Event::AccountRegistered {
        account_id: account(n),
        email: email(address),
        first_name: "First".into(),
        last_name: "Last".into(),
        password_hash: None,
    }
}

fn joined(project_n: u128, n: u128, role: Role) -> Event {
    Event::MemberJoined {
        project_id: project(project_n),
        account_id: account(n),
        role,
    }
}

fn created(project_n: u128, by: u128) -> Vec<Event> {
    vec![
        Event::ProjectCreated {
            project_id: project(project_n),
            name: "Fruit Company".into(),
            created_by: account(by),
        },
        joined(project_n, by, Role::Owner),
    ]
}

fn key_created(project_n: u128, by: u128, n: u128, scopes: &[&str], tags: &[&str]) -> Event {
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

fn granted(
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
fn fruit_company() -> Vec<Event> {
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

fn with(mut base: Vec<Event>, more: impl IntoIterator<Item = Event>) -> Vec<Event> {
    base.extend(more);
    base
}

struct Given {
    state: State,
    known: Known,
    now: Timestamp,
}

fn given(events: impl IntoIterator<Item = Event>) -> Given {
    let mut state = State::default();
    for event in events {
        evolve(&mut state, &event);
    }
    Given {
        state,
        known: Known::default(),
        now: start(),
    }
}

struct Then(Result<Vec<Event>, DomainError>);

impl Given {
    fn at(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    fn knowing(mut self, known: Known) -> Self {
        self.known = known;
        self
    }

    fn when(self, actor: Actor, command: Command) -> Then {
        Then(decide(&self.state, &actor, &command, self.known, self.now))
    }
}

impl Then {
    #[track_caller]
    fn then(self, expected: Vec<Event>) {
        assert_eq!(self.0, Ok(expected));
    }

    #[track_caller]
    fn then_err(self, expected: DomainError) {
        assert_eq!(self.0, Err(expected));
    }

    #[track_caller]
    fn events(self) -> Vec<Event> {
        self.0.expect("the command should succeed")
    }
}

fn invite(address: &str, role: Role) -> Command {
    Command::InviteMember {
        project_id: project(FRUIT),
        email: email(address),
        role,
        token_hash: digest(9),
        expires_at: days(7),
    }
}

fn invited(address: &str, role: Role, token: u8, expires_at: Timestamp) -> Event {
    Event::MemberInvited {
        project_id: project(FRUIT),
        email: email(address),
        role,
        invited_by: account(OWNER),
        token_hash: digest(token),
        expires_at,
    }
}

fn create_key(n: u128, scopes: &[&str]) -> Command {
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

fn usage(request: u128, cost: Nanodollars, status_code: u16, tags: &[&str]) -> Command {
    Command::RecordUsage {
        project_id: project(FRUIT),
        report: UsageReport {
            request_id: RequestId::from_uuid(uuid(4000 + request)),
            tags: tags.iter().map(|t| tag(t)).collect(),
            endpoint: Endpoint::Listen,
            method: RequestMethod::Sync,
            model: "nova-3".into(),
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

// ---------------------------------------------------------------- signup and accounts

#[test]
fn signup_creates_the_account_its_project_and_promotional_credit_expiring_a_year_later() {
    given([])
        .when(
            Actor::System,
            Command::RegisterAccount(Registration {
                account_id: account(OWNER),
                email: email("Olive@Fruit.example"),
                first_name: "Olive".into(),
                last_name: "Grove".into(),
                password_hash: None,
                project_id: project(FRUIT),
                project_name: "Olive's project".into(),
                promotional_credit: Some((grant(1), usd(200))),
            }),
        )
        .then(vec![
            Event::AccountRegistered {
                account_id: account(OWNER),
                email: email("olive@fruit.example"),
                first_name: "Olive".into(),
                last_name: "Grove".into(),
                password_hash: None,
            },
            Event::ProjectCreated {
                project_id: project(FRUIT),
                name: "Olive's project".into(),
                created_by: account(OWNER),
            },
            joined(FRUIT, OWNER, Role::Owner),
            Event::CreditsGranted {
                project_id: project(FRUIT),
                grant_id: grant(1),
                source: CreditSource::Promotional,
                amount: usd(200),
                expires_at: Some(Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").unwrap()),
                reference: Some("signup".into()),
            },
        ]);
}

#[test]
fn signup_with_a_taken_email_in_any_case_is_refused() {
    given(fruit_company())
        .when(
            Actor::System,
            Command::RegisterAccount(Registration {
                account_id: account(9),
                email: email("OLIVE@fruit.example"),
                first_name: String::new(),
                last_name: String::new(),
                password_hash: None,
                project_id: project(9),
                project_name: "Again".into(),
                promotional_credit: None,
            }),
        )
        .then_err(DomainError::EmailTaken);
}

#[test]
fn a_deleted_account_leaves_shared_projects_and_its_solo_projects_are_deleted() {
    given(with(fruit_company(), created(OTHER, MEMBER)))
        .when(
            person(MEMBER),
            Command::DeleteAccount {
                account_id: account(MEMBER),
            },
        )
        .then(vec![
            Event::MemberRemoved {
                project_id: project(FRUIT),
                account_id: account(MEMBER),
                reason: RemovalReason::AccountDeleted,
            },
            Event::ProjectDeleted {
                project_id: project(OTHER),
            },
            Event::AccountDeleted {
                account_id: account(MEMBER),
            },
        ]);
}

#[test]
fn the_sole_owner_of_a_shared_project_cannot_delete_their_account() {
    given(fruit_company())
        .when(
            person(OWNER),
            Command::DeleteAccount {
                account_id: account(OWNER),
            },
        )
        .then_err(DomainError::SoleOwner);
}

#[test]
fn nobody_deletes_another_persons_account() {
    given(fruit_company())
        .when(
            person(OWNER),
            Command::DeleteAccount {
                account_id: account(MEMBER),
            },
        )
        .then_err(DomainError::InsufficientPermissions);
}

// ---------------------------------------------------------------- projects

#[test]
fn a_project_is_invisible_to_those_outside_it() {
    given(fruit_company())
        .when(
            person(OUTSIDER),
            Command::UpdateProject {
                project_id: project(FRUIT),
                name: Some("Mine now".into()),
                company: None,
            },
        )
        .then_err(DomainError::ProjectNotFound);
}

#[test]
fn a_member_renames_the_project_but_only_an_owner_deletes_it() {
    let history = fruit_company();
    given(history.clone())
        .when(
            person(MEMBER),
            Command::UpdateProject {
                project_id: project(FRUIT),
                name: Some("Fruit Co.".into()),
                company: Some("Fruit Company Ltd".into()),
            },
        )
        .then(vec![
            Event::ProjectRenamed {
                project_id: project(FRUIT),
                name: "Fruit Co.".into(),
            },
            Event::ProjectCompanyChanged {
                project_id: project(FRUIT),
                company: "Fruit Company Ltd".into(),
            },
        ]);
    given(history.clone())
        .when(
            person(ADMIN),
            Command::DeleteProject {
                project_id: project(FRUIT),
            },
        )
        .then_err(DomainError::InsufficientPermissions);
    given(history)
        .when(
            person(OWNER),
            Command::DeleteProject {
                project_id: project(FRUIT),
            },
        )
        .then(vec![Event::ProjectDeleted {
            project_id: project(FRUIT),
        }]);
}

#[test]
fn a_blank_or_overlong_project_name_is_refused() {
    for name in ["", "   ", &"x".repeat(101)] {
        given(fruit_company())
            .when(
                person(OWNER),
                Command::UpdateProject {
                    project_id: project(FRUIT),
                    name: Some(name.into()),
                    company: None,
                },
            )
            .then_err(DomainError::InvalidName);
    }
}

// ---------------------------------------------------------------- invitations

#[test]
fn an_owner_invites_an_admin() {
    given(fruit_company())
        .when(person(OWNER), invite("nina@fruit.example", Role::Admin))
        .then(vec![invited("nina@fruit.example", Role::Admin, 9, days(7))]);
}

#[test]
fn nobody_invites_into_a_role_above_their_own() {
    given(fruit_company())
        .when(person(ADMIN), invite("nina@fruit.example", Role::Owner))
        .then_err(DomainError::InsufficientPermissions);
    given(fruit_company())
        .when(person(MEMBER), invite("nina@fruit.example", Role::Member))
        .then_err(DomainError::InsufficientPermissions);
}

#[test]
fn an_existing_member_is_not_invited_again() {
    given(fruit_company())
        .when(person(OWNER), invite("MIA@fruit.example", Role::Admin))
        .then_err(DomainError::AlreadyMember);
}

#[test]
fn a_pending_invitation_is_resent_not_sent_twice() {
    let history = with(
        fruit_company(),
        [invited("nina@fruit.example", Role::Member, 5, days(7))],
    );
    given(history.clone())
        .when(person(OWNER), invite("nina@fruit.example", Role::Member))
        .then_err(DomainError::AlreadyInvited);
    let mut reinvite = invite("nina@fruit.example", Role::Member);
    if let Command::InviteMember { expires_at, .. } = &mut reinvite {
        *expires_at = days(15);
    }
    given(history.clone())
        .at(days(8))
        .when(person(OWNER), reinvite)
        .then(vec![invited(
            "nina@fruit.example",
            Role::Member,
            9,
            days(15),
        )]);
    given(history)
        .at(days(1))
        .when(
            person(ADMIN),
            Command::ResendInvitation {
                project_id: project(FRUIT),
                email: email("nina@fruit.example"),
                token_hash: digest(6),
                expires_at: days(8),
            },
        )
        .then(vec![Event::InvitationResent {
            project_id: project(FRUIT),
            email: email("nina@fruit.example"),
            token_hash: digest(6),
            expires_at: days(8),
        }]);
}

#[test]
fn an_invitation_is_accepted_with_the_invited_address_in_any_case() {
    given(with(
        fruit_company(),
        [
            registered(9, "Nina@Fruit.Example"),
            invited("nina@fruit.example", Role::Admin, 5, days(7)),
        ],
    ))
    .at(days(6))
    .when(
        person(9),
        Command::AcceptInvitation {
            token_hash: digest(5),
        },
    )
    .then(vec![
        Event::InvitationAccepted {
            project_id: project(FRUIT),
            email: email("nina@fruit.example"),
            account_id: account(9),
        },
        joined(FRUIT, 9, Role::Admin),
    ]);
}

#[test]
fn an_invitation_is_not_accepted_by_another_address() {
    given(with(
        fruit_company(),
        [invited("nina@fruit.example", Role::Admin, 5, days(7))],
    ))
    .when(
        person(OUTSIDER),
        Command::AcceptInvitation {
            token_hash: digest(5),
        },
    )
    .then_err(DomainError::InvitationEmailMismatch);
}

#[test]
fn an_expired_invitation_is_not_accepted() {
    given(with(
        fruit_company(),
        [
            registered(9, "nina@fruit.example"),
            invited("nina@fruit.example", Role::Admin, 5, days(7)),
        ],
    ))
    .at(days(7))
    .when(
        person(9),
        Command::AcceptInvitation {
            token_hash: digest(5),
        },
    )
    .then_err(DomainError::InvitationExpired);
}

#[test]
fn a_resent_invitation_kills_the_old_token_and_a_revoked_one_kills_all() {
    let history = with(
        fruit_company(),
        [
            registered(9, "nina@fruit.example"),
            invited("nina@fruit.example", Role::Admin, 5, days(7)),
            Event::InvitationResent {
                project_id: project(FRUIT),
                email: email("nina@fruit.example"),
                token_hash: digest(6),
                expires_at: days(8),
            },
        ],
    );
    let accept = |token| Command::AcceptInvitation {
        token_hash: digest(token),
    };
    given(history.clone())
        .when(person(9), accept(5))
        .then_err(DomainError::InvitationNotFound);
    assert_eq!(
        given(history.clone())
            .when(person(9), accept(6))
            .events()
            .len(),
        2
    );
    let revoked = with(
        history,
        [Event::InvitationRevoked {
            project_id: project(FRUIT),
            email: email("nina@fruit.example"),
        }],
    );
    given(revoked)
        .when(person(9), accept(6))
        .then_err(DomainError::InvitationNotFound);
}

#[test]
fn a_member_cannot_revoke_an_invitation() {
    given(with(
        fruit_company(),
        [invited("nina@fruit.example", Role::Member, 5, days(7))],
    ))
    .when(
        person(MEMBER),
        Command::RevokeInvitation {
            project_id: project(FRUIT),
            email: email("nina@fruit.example"),
        },
    )
    .then_err(DomainError::InsufficientPermissions);
}

// ---------------------------------------------------------------- roles and membership

fn change_role(n: u128, role: Role) -> Command {
    Command::ChangeRole {
        project_id: project(FRUIT),
        account_id: account(n),
        role,
    }
}

#[test]
fn an_owner_promotes_a_member_to_admin() {
    given(fruit_company())
        .when(person(OWNER), change_role(MEMBER, Role::Admin))
        .then(vec![Event::RoleChanged {
            project_id: project(FRUIT),
            account_id: account(MEMBER),
            from: Role::Member,
            to: Role::Admin,
        }]);
}

#[test]
fn an_admin_cannot_make_an_owner_nor_demote_one() {
    given(fruit_company())
        .when(person(ADMIN), change_role(MEMBER, Role::Owner))
        .then_err(DomainError::InsufficientPermissions);
    given(fruit_company())
        .when(person(ADMIN), change_role(OWNER, Role::Member))
        .then_err(DomainError::InsufficientPermissions);
}

#[test]
fn the_sole_owner_is_never_demoted_removed_or_gone() {
    given(fruit_company())
        .when(person(OWNER), change_role(OWNER, Role::Admin))
        .then_err(DomainError::SoleOwner);
    given(fruit_company())
        .when(
            person(OWNER),
            Command::RemoveMember {
                project_id: project(FRUIT),
                account_id: account(OWNER),
            },
        )
        .then_err(DomainError::SoleOwner);
    given(fruit_company())
        .when(
            person(OWNER),
            Command::LeaveProject {
                project_id: project(FRUIT),
            },
        )
        .then_err(DomainError::SoleOwner);
}

#[test]
fn with_a_second_owner_the_first_may_step_down() {
    given(with(
        fruit_company(),
        [
            registered(9, "nina@fruit.example"),
            joined(FRUIT, 9, Role::Owner),
        ],
    ))
    .when(person(9), change_role(OWNER, Role::Member))
    .then(vec![Event::RoleChanged {
        project_id: project(FRUIT),
        account_id: account(OWNER),
        from: Role::Owner,
        to: Role::Member,
    }]);
}

#[test]
fn an_admin_removes_a_member_but_not_an_owner() {
    let remove = |n| Command::RemoveMember {
        project_id: project(FRUIT),
        account_id: account(n),
    };
    given(fruit_company())
        .when(person(ADMIN), remove(MEMBER))
        .then(vec![Event::MemberRemoved {
            project_id: project(FRUIT),
            account_id: account(MEMBER),
            reason: RemovalReason::Kicked,
        }]);
    given(fruit_company())
        .when(person(ADMIN), remove(OWNER))
        .then_err(DomainError::InsufficientPermissions);
    given(fruit_company())
        .when(person(ADMIN), remove(OUTSIDER))
        .then_err(DomainError::MemberNotFound);
}

#[test]
fn a_member_leaves_a_project() {
    given(fruit_company())
        .when(
            person(MEMBER),
            Command::LeaveProject {
                project_id: project(FRUIT),
            },
        )
        .then(vec![Event::MemberLeft {
            project_id: project(FRUIT),
            account_id: account(MEMBER),
        }]);
}

// ---------------------------------------------------------------- keys

#[test]
fn a_member_creates_a_key_with_a_role_no_greater_than_their_own() {
    given(fruit_company())
        .when(person(MEMBER), create_key(1, &["member"]))
        .then(vec![key_created(FRUIT, MEMBER, 1, &["member"], &[])]);
    given(fruit_company())
        .when(person(MEMBER), create_key(1, &["admin"]))
        .then_err(DomainError::ScopeBeyondOwn);
    given(fruit_company())
        .when(person(MEMBER), create_key(1, &["billing:read"]))
        .then_err(DomainError::ScopeBeyondOwn);
}

#[test]
fn a_key_made_with_a_key_holds_at_most_that_keys_scopes() {
    let history = with(
        fruit_company(),
        [key_created(
            FRUIT,
            OWNER,
            1,
            &["keys:write", "usage:read"],
            &[],
        )],
    );
    given(history.clone())
        .when(key_of(OWNER, 1), create_key(2, &["usage:read"]))
        .then(vec![key_created(FRUIT, OWNER, 2, &["usage:read"], &[])]);
    given(history)
        .when(key_of(OWNER, 1), create_key(2, &["usage:write"]))
        .then_err(DomainError::ScopeBeyondOwn);
}

#[test]
fn a_key_needs_at_least_one_scope_and_a_future_expiry() {
    given(fruit_company())
        .when(person(OWNER), create_key(1, &[]))
        .then_err(DomainError::InvalidScopes);
    let mut expired = create_key(1, &["member"]);
    if let Command::CreateKey(NewKey { expires_at, .. }) = &mut expired {
        *expires_at = Some(start());
    }
    given(fruit_company())
        .when(person(OWNER), expired)
        .then_err(DomainError::ExpiryInPast);
}

#[test]
fn removing_a_member_disables_the_keys_they_created() {
    given(with(
        fruit_company(),
        [
            key_created(FRUIT, MEMBER, 1, &["member"], &[]),
            Event::MemberRemoved {
                project_id: project(FRUIT),
                account_id: account(MEMBER),
                reason: RemovalReason::Kicked,
            },
        ],
    ))
    .when(key_of(MEMBER, 1), create_key(2, &["usage:read"]))
    .then_err(DomainError::InvalidCredentials);
}

#[test]
fn deleting_an_account_disables_its_keys() {
    given(with(
        fruit_company(),
        [
            key_created(FRUIT, MEMBER, 1, &["member"], &[]),
            Event::AccountDeleted {
                account_id: account(MEMBER),
            },
        ],
    ))
    .when(key_of(MEMBER, 1), usage(1, usd(0), 200, &[]))
    .then_err(DomainError::InvalidCredentials);
}

#[test]
fn a_demoted_creators_key_loses_what_the_creator_lost() {
    given(with(
        fruit_company(),
        [
            key_created(FRUIT, ADMIN, 1, &["admin"], &[]),
            Event::RoleChanged {
                project_id: project(FRUIT),
                account_id: account(ADMIN),
                from: Role::Admin,
                to: Role::Member,
            },
        ],
    ))
    .when(key_of(ADMIN, 1), invite("nina@fruit.example", Role::Member))
    .then_err(DomainError::InsufficientPermissions);
}

#[test]
fn an_expired_or_deleted_key_is_refused() {
    let mut expiring = key_created(FRUIT, OWNER, 1, &["owner"], &[]);
    if let Event::ApiKeyCreated { expires_at, .. } = &mut expiring {
        *expires_at = Some(days(1));
    }
    given(with(fruit_company(), [expiring]))
        .at(days(1))
        .when(key_of(OWNER, 1), create_key(2, &["member"]))
        .then_err(DomainError::InvalidCredentials);
    given(with(
        fruit_company(),
        [
            key_created(FRUIT, OWNER, 1, &["owner"], &[]),
            Event::ApiKeyDeleted {
                project_id: project(FRUIT),
                key_id: key(1),
            },
        ],
    ))
    .when(key_of(OWNER, 1), create_key(2, &["member"]))
    .then_err(DomainError::InvalidCredentials);
}

#[test]
fn a_key_is_useless_outside_its_project() {
    let mut history = with(fruit_company(), created(OTHER, OWNER));
    history.push(key_created(OTHER, OWNER, 1, &["owner"], &[]));
    given(history)
        .when(key_of(OWNER, 1), create_key(2, &["member"]))
        .then_err(DomainError::ProjectNotFound);
}

#[test]
fn a_creator_who_rejoins_does_not_revive_their_old_keys() {
    given(with(
        fruit_company(),
        [
            key_created(FRUIT, MEMBER, 1, &["member"], &[]),
            Event::MemberLeft {
                project_id: project(FRUIT),
                account_id: account(MEMBER),
            },
            joined(FRUIT, MEMBER, Role::Member),
        ],
    ))
    .when(key_of(MEMBER, 1), create_key(2, &["usage:read"]))
    .then_err(DomainError::InvalidCredentials);
}

#[test]
fn a_member_deletes_their_own_keys_but_not_another_members() {
    let history = with(
        fruit_company(),
        [
            key_created(FRUIT, MEMBER, 1, &["member"], &[]),
            key_created(FRUIT, OWNER, 2, &["member"], &[]),
        ],
    );
    let delete = |n| Command::DeleteKey {
        project_id: project(FRUIT),
        key_id: key(n),
    };
    given(history.clone())
        .when(person(MEMBER), delete(1))
        .then(vec![Event::ApiKeyDeleted {
            project_id: project(FRUIT),
            key_id: key(1),
        }]);
    given(history.clone())
        .when(person(MEMBER), delete(2))
        .then_err(DomainError::InsufficientPermissions);
    given(history)
        .when(person(ADMIN), delete(2))
        .then(vec![Event::ApiKeyDeleted {
            project_id: project(FRUIT),
            key_id: key(2),
        }]);
}

#[test]
fn a_deleted_key_is_not_deleted_twice() {
    let history = with(
        fruit_company(),
        [
            key_created(FRUIT, MEMBER, 1, &["member"], &[]),
            Event::ApiKeyDeleted {
                project_id: project(FRUIT),
                key_id: key(1),
            },
        ],
    );
    given(history)
        .when(
            person(OWNER),
            Command::DeleteKey {
                project_id: project(FRUIT),
                key_id: key(1),
            },
        )
        .then_err(DomainError::KeyNotFound);
}

// ---------------------------------------------------------------- credits

fn funded() -> Vec<Event> {
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

#[test]
fn usage_spends_the_soonest_expiring_credit_first_and_card_credit_last() {
    let events = given(funded())
        .when(key_of(MEMBER, 1), usage(1, usd(8), 200, &[]))
        .events();
    assert_eq!(
        events[1],
        Event::CreditsConsumed {
            project_id: project(FRUIT),
            request_id: RequestId::from_uuid(uuid(4001)),
            portions: vec![
                ConsumedPortion {
                    grant_id: grant(3),
                    amount: usd(2),
                    remaining: usd(0),
                },
                ConsumedPortion {
                    grant_id: grant(2),
                    amount: usd(5),
                    remaining: usd(0),
                },
                ConsumedPortion {
                    grant_id: grant(1),
                    amount: usd(1),
                    remaining: usd(9),
                },
            ],
        }
    );
}

#[test]
fn usage_never_spends_expired_credit() {
    given(funded())
        .at(days(90))
        .when(key_of(MEMBER, 1), usage(1, usd(11), 200, &[]))
        .then_err(DomainError::InsufficientCredit);
    let events = given(funded())
        .at(days(30))
        .when(key_of(MEMBER, 1), usage(1, usd(6), 200, &[]))
        .events();
    let Event::CreditsConsumed { portions, .. } = &events[1] else {
        panic!("expected consumption, got {events:?}");
    };
    let spent_from: Vec<GrantId> = portions.iter().map(|p| p.grant_id).collect();
    assert_eq!(spent_from, [grant(2), grant(1)]);
}

#[test]
fn usage_beyond_the_balance_is_refused_and_records_nothing() {
    given(funded())
        .when(
            key_of(MEMBER, 1),
            usage(1, usd(17) + Nanodollars::new(1), 200, &[]),
        )
        .then_err(DomainError::InsufficientCredit);
}

#[test]
fn a_failed_request_is_recorded_and_costs_nothing() {
    let events = given(funded())
        .when(key_of(MEMBER, 1), usage(1, usd(3), 503, &[]))
        .events();
    assert_eq!(events.len(), 1, "no consumption: {events:?}");
    let Event::UsageRecorded {
        cost, status_code, ..
    } = &events[0]
    else {
        panic!("expected usage, got {events:?}");
    };
    assert_eq!((*cost, *status_code), (Nanodollars::ZERO, 503));
}

#[test]
fn usage_carries_the_keys_tags_and_the_requests_own() {
    let events = given(funded())
        .when(
            key_of(MEMBER, 1),
            usage(1, usd(1), 200, &["batch-7", "apple"]),
        )
        .events();
    let Event::UsageRecorded { tags, .. } = &events[0] else {
        panic!("expected usage, got {events:?}");
    };
    assert_eq!(tags, &[tag("apple"), tag("batch-7")]);
}

#[test]
fn a_request_id_the_log_knows_is_refused_as_a_duplicate_but_only_to_whoever_may_meter() {
    let recorded = Known {
        request_recorded: true,
    };
    given(funded())
        .knowing(recorded)
        .when(key_of(MEMBER, 1), usage(1, usd(1), 200, &[]))
        .then_err(DomainError::DuplicateRequest);
    // A key of another project learns nothing of this project's requests.
    given(with(funded(), created(OTHER, OUTSIDER)))
        .knowing(recorded)
        .when(key_of(OUTSIDER, 9), usage(1, usd(1), 200, &[]))
        .then_err(DomainError::ProjectNotFound);
}

/// What the processor tells `decide` of the log's request index (`Known`), tested through a
/// processor on a log: concurrently, after a restart, and per project.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_request_is_recorded_once_per_project() {
    use crate::{clock::ManualClock, processor::CommandProcessor};
    use std::sync::{Arc, RwLock};

    // Given: the Fruit Company and another project, each funded with a key.
    let directory = tempfile::tempdir().unwrap();
    let history = with(
        funded(),
        [
            created(OTHER, OWNER),
            vec![
                granted(OTHER, 4, CreditSource::Card, usd(10), None),
                key_created(OTHER, OWNER, 2, &["member"], &[]),
            ],
        ]
        .concat(),
    );
    let start_processor = |log: Arc<EventLog>| {
        let state = crate::processor::load_state(&log).unwrap();
        let projections = Arc::new(RwLock::new(
            steward_projections::Projections::rebuild(&log).unwrap(),
        ));
        CommandProcessor::start(log, state, projections, Arc::new(ManualClock::new(days(1))))
    };
    let log = Arc::new(EventLog::open(directory.path()).unwrap());
    log.append(Commit {
        expected_versions: vec![],
        events: history
            .into_iter()
            .map(|event| ProposedEvent {
                event,
                actor: Actor::System,
                correlation_id: Uuid::nil(),
                event_id: EventId::from_uuid(Uuid::now_v7()),
                recorded_at: start(),
            })
            .collect(),
    })
    .unwrap();
    let processor = Arc::new(start_processor(Arc::clone(&log)));
    // When: the same request, 32 times at once
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let processor = Arc::clone(&processor);
        tasks.spawn(async move {
            processor
                .execute(key_of(MEMBER, 1), usage(1, usd(1), 200, &[]))
                .await
        });
    }
    let answers = tasks.join_all().await;
    // Then: one is recorded, 31 are refused as duplicates
    let recorded = answers.iter().filter(|answer| answer.is_ok()).count();
    let duplicates = answers
        .iter()
        .filter(|answer| {
            matches!(
                answer,
                Err(crate::processor::CommandError::Domain(
                    DomainError::DuplicateRequest
                ))
            )
        })
        .count();
    assert_eq!((recorded, duplicates), (1, 31), "{answers:?}");
    let head = log.head();

    // When: retried after a restart
    drop(processor);
    drop(log);
    let log = Arc::new(EventLog::open(directory.path()).unwrap());
    let processor = start_processor(Arc::clone(&log));
    let again = processor
        .execute(key_of(MEMBER, 1), usage(1, usd(1), 200, &[]))
        .await;
    // Then
    assert!(
        matches!(
            again,
            Err(crate::processor::CommandError::Domain(
                DomainError::DuplicateRequest
            ))
        ),
        "{again:?}"
    );
    assert_eq!(log.head(), head);

    // When: the same request id in another project
    let elsewhere = Command::RecordUsage {
        project_id: project(OTHER),
        report: match usage(1, usd(1), 200, &[]) {
            Command::RecordUsage { report, .. } => report,
            _ => unreachable!("usage() makes a RecordUsage"),
        },
    };
    let recorded_elsewhere = processor.execute(key_of(OWNER, 2), elsewhere).await;
    // Then: it is another project's request
    assert!(recorded_elsewhere.is_ok(), "{recorded_elsewhere:?}");
    assert!(log.head() > head);
}

#[test]
fn usage_is_recorded_only_with_a_key_holding_usage_write() {
    given(funded())
        .when(person(MEMBER), usage(1, usd(1), 200, &[]))
        .then_err(DomainError::InsufficientPermissions);
    given(with(
        funded(),
        [key_created(FRUIT, MEMBER, 2, &["usage:read"], &[])],
    ))
    .when(key_of(MEMBER, 2), usage(1, usd(1), 200, &[]))
    .then_err(DomainError::InsufficientPermissions);
}

#[test]
fn only_the_operator_grants_credit_and_expiry_follows_the_source() {
    let grant_command = |source, expires_at| Command::GrantCredits {
        project_id: project(FRUIT),
        grant_id: grant(7),
        source,
        amount: usd(100),
        expires_at,
        reference: Some("PO-1".into()),
    };
    given(fruit_company())
        .when(person(OWNER), grant_command(CreditSource::Card, None))
        .then_err(DomainError::InsufficientPermissions);
    given(fruit_company())
        .when(Actor::Operator, grant_command(CreditSource::Contract, None))
        .then_err(DomainError::InvalidExpiry);
    given(fruit_company())
        .when(
            Actor::Operator,
            grant_command(CreditSource::Card, Some(days(9))),
        )
        .then_err(DomainError::InvalidExpiry);
    given(fruit_company())
        .at(days(9))
        .when(
            Actor::Operator,
            grant_command(CreditSource::Contract, Some(days(9))),
        )
        .then_err(DomainError::ExpiryInPast);
    given(fruit_company())
        .when(
            Actor::Operator,
            grant_command(CreditSource::Contract, Some(days(365))),
        )
        .then(vec![Event::CreditsGranted {
            project_id: project(FRUIT),
            grant_id: grant(7),
            source: CreditSource::Contract,
            amount: usd(100),
            expires_at: Some(days(365)),
            reference: Some("PO-1".into()),
        }]);
}

#[test]
fn zero_negative_and_absurd_amounts_are_refused() {
    for amount in [
        Nanodollars::ZERO,
        Nanodollars::new(-1),
        crate::limits::AMOUNT_MAX + Nanodollars::new(1),
    ] {
        given(fruit_company())
            .when(
                Actor::Operator,
                Command::GrantCredits {
                    project_id: project(FRUIT),
                    grant_id: grant(7),
                    source: CreditSource::Card,
                    amount,
                    expires_at: None,
                    reference: None,
                },
            )
            .then_err(DomainError::InvalidAmount);
    }
}

fn transfer(amount: TransferAmount) -> Command {
    Command::TransferCredits {
        transfer_id: TransferId::from_uuid(uuid(5000)),
        from_project_id: project(FRUIT),
        to_project_id: project(OTHER),
        amount,
    }
}

fn two_projects() -> Vec<Event> {
    with(funded(), created(OTHER, OWNER))
}

#[test]
fn a_transfer_moves_portions_in_spending_order_keeping_their_expiry() {
    let events = given(two_projects())
        .when(person(OWNER), transfer(TransferAmount::Amount(usd(3))))
        .events();
    let Event::CreditsTransferredIn { portions, .. } = &events[1] else {
        panic!("expected the receiving side, got {events:?}");
    };
    let moved: Vec<(
        GrantId,
        CreditSource,
        Nanodollars,
        Option<Timestamp>,
        Nanodollars,
    )> = portions
        .iter()
        .map(|p| {
            (
                p.from_grant_id,
                p.source,
                p.amount,
                p.expires_at,
                p.from_grant_remaining,
            )
        })
        .collect();
    assert_eq!(
        moved,
        [
            (
                grant(3),
                CreditSource::Promotional,
                usd(2),
                Some(days(30)),
                usd(0)
            ),
            (
                grant(2),
                CreditSource::Contract,
                usd(1),
                Some(days(90)),
                usd(4)
            ),
        ]
    );
    let Event::CreditsTransferredOut {
        portions: out_portions,
        ..
    } = &events[0]
    else {
        panic!("expected the sending side, got {events:?}");
    };
    assert_eq!(out_portions, portions);
    assert_ne!(portions[0].to_grant_id, portions[1].to_grant_id);
}

#[test]
fn a_whole_balance_moves_with_its_expiry() {
    let events = given(two_projects())
        .when(
            person(OWNER),
            transfer(TransferAmount::WholeGrant(grant(2))),
        )
        .events();
    let Event::CreditsTransferredIn { portions, .. } = &events[1] else {
        panic!("expected the receiving side, got {events:?}");
    };
    assert_eq!(portions.len(), 1);
    assert_eq!(
        (portions[0].amount, portions[0].expires_at),
        (usd(5), Some(days(90)))
    );
}

#[test]
fn a_transfer_beyond_the_usable_balance_is_refused() {
    given(two_projects())
        .at(days(30))
        .when(person(OWNER), transfer(TransferAmount::Amount(usd(16))))
        .then_err(DomainError::InsufficientCredit);
}

#[test]
fn a_transfer_needs_billing_write_in_both_projects_and_no_key() {
    given(with(two_projects(), [joined(OTHER, ADMIN, Role::Owner)]))
        .when(person(ADMIN), transfer(TransferAmount::Amount(usd(1))))
        .then_err(DomainError::InsufficientPermissions);
    let mut not_in_destination = funded();
    not_in_destination.extend(created(OTHER, OUTSIDER));
    given(not_in_destination)
        .when(person(OWNER), transfer(TransferAmount::Amount(usd(1))))
        .then_err(DomainError::ProjectNotFound);
    given(with(
        two_projects(),
        [key_created(FRUIT, OWNER, 2, &["owner"], &[])],
    ))
    .when(key_of(OWNER, 2), transfer(TransferAmount::Amount(usd(1))))
    .then_err(DomainError::AccountRequired);
}

#[test]
fn the_sweeper_expires_each_grant_once() {
    let swept = given(funded())
        .at(days(30))
        .when(Actor::System, Command::ExpireCredits)
        .events();
    assert_eq!(
        swept,
        [Event::CreditsExpired {
            project_id: project(FRUIT),
            grant_id: grant(3),
            amount: usd(2),
        }]
    );
    given(with(funded(), swept))
        .at(days(31))
        .when(Actor::System, Command::ExpireCredits)
        .then(vec![]);
}
