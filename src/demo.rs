//! `steward demo`: the seed's Fruit Company, written through the command processor.
//!
//! One project with an owner, admins and members; invitations accepted, resent and revoked;
//! promotional, contract and card credit; a transfer to a second project; keys tagged apple,
//! banana and pear; a month of usage with per-request tags; a member removed, whose key dies.
//! Ids come from a deterministic sequence and the clock is manual, so two runs write the same
//! history except for the random secrets.

use crate::{
    clock::ManualClock,
    domain::{
        Command, CompanyName, DomainError, KeyComment, NewKey, PersonName, ProjectName, Reference,
        Registration, TagBudget, TransferAmount, UsageReport,
    },
    models::ModelCatalog,
    pricing::PriceTable,
    processor::CommandError,
    secrets::Secret,
    Steward,
};
use std::{path::Path, sync::Arc};
use steward_events::{
    AccountId, Actor, CreditSource, Deployment, Email, Endpoint, Feature, FeatureSet, GrantId,
    KeyId, LogError, Nanodollars, ProjectId, RequestId, RequestMethod, Role, Scope, Tag, Timestamp,
    TransferId, UsageUnits,
};
use steward_projections::ProjectionSummary;
use uuid::Uuid;

/// What the demo wrote.
#[derive(Debug)]
pub struct DemoReport {
    pub fruit_company: ProjectId,
    pub fruit_labs: ProjectId,
    pub events: u64,
    pub requests_recorded: u64,
    pub requests_refused_after_removal: u64,
    /// The live projections' summaries when the demo ended, for comparing with a rebuild.
    pub live_summaries: Vec<ProjectionSummary>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the data directory already holds {0} events; the demo needs an empty one")]
    NotEmpty(u64),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("a demo command failed: {0}")]
    Command(#[from] CommandError),
}

/// The demo's first instant.
pub fn demo_start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-10-01T09:00:00Z").expect("a valid instant")
}

struct Demo {
    steward: Steward,
    clock: Arc<ManualClock>,
    next_id: u64,
}

impl Demo {
    /// A UUID v7 from the manual clock and a counter: valid, time-ordered and repeatable.
    fn id(&mut self) -> Uuid {
        self.next_id += 1;
        let millis = (self.clock_now().unix_micros() / 1000) as u64;
        let mut counter = [0u8; 10];
        counter[2..].copy_from_slice(&self.next_id.to_be_bytes());
        uuid::Builder::from_unix_timestamp_millis(millis, &counter).into_uuid()
    }

    fn clock_now(&self) -> Timestamp {
        crate::clock::Clock::now(self.clock.as_ref())
    }

    async fn run(&self, actor: Actor, command: Command) -> Result<(), DemoError> {
        self.steward.execute(actor, command).await?;
        Ok(())
    }

    fn hours(&self, hours: i64) {
        self.clock.advance_seconds(hours * 3600);
    }

    async fn sign_up(
        &mut self,
        email: &str,
        first_name: &str,
        last_name: &str,
        project_name: &str,
        promotional: Option<Nanodollars>,
    ) -> Result<(AccountId, ProjectId), DemoError> {
        let account_id = AccountId::from_uuid(self.id());
        let project_id = ProjectId::from_uuid(self.id());
        let promotional_credit = promotional.map(|amount| (GrantId::from_uuid(self.id()), amount));
        self.run(
            Actor::System,
            Command::RegisterAccount(Registration {
                account_id,
                email: email_of(email),
                first_name: text(PersonName::parse, first_name),
                last_name: text(PersonName::parse, last_name),
                password_hash: None,
                project_id,
                project_name: text(ProjectName::parse, project_name),
                promotional_credit,
            }),
        )
        .await?;
        Ok((account_id, project_id))
    }

    async fn invite(
        &self,
        by: AccountId,
        project_id: ProjectId,
        email: &str,
        role: Role,
    ) -> Result<Secret, DemoError> {
        let token = Secret::invitation_token();
        self.run(
            Actor::Account(by),
            Command::InviteMember {
                project_id,
                email: email_of(email),
                role,
                token_hash: token.hash,
                expires_at: self.clock_now().plus_seconds(7 * 86_400),
            },
        )
        .await?;
        Ok(token)
    }

    async fn accept(&self, account_id: AccountId, token: &Secret) -> Result<(), DemoError> {
        self.run(
            Actor::Account(account_id),
            Command::AcceptInvitation {
                token_hash: token.hash,
            },
        )
        .await
    }

    async fn create_key(
        &mut self,
        by: AccountId,
        project_id: ProjectId,
        comment: &str,
        scopes: &[&str],
        tags: &[&str],
    ) -> Result<KeyId, DemoError> {
        let key_id = KeyId::from_uuid(self.id());
        let secret = Secret::api_key();
        self.run(
            Actor::Account(by),
            Command::CreateKey(NewKey {
                project_id,
                key_id,
                secret_hash: secret.hash,
                comment: text(KeyComment::parse, comment),
                scopes: scopes.iter().map(|s| scope_of(s)).collect(),
                tags: tags.iter().map(|t| tag_of(t)).collect(),
                expires_at: None,
            }),
        )
        .await?;
        Ok(key_id)
    }
}

fn email_of(text: &str) -> Email {
    Email::parse(text).expect("demo emails are valid")
}

fn tag_of(text: &str) -> Tag {
    Tag::parse(text).expect("demo tags are valid")
}

fn scope_of(text: &str) -> Scope {
    Scope::parse(text).expect("demo scopes are valid")
}

/// One of the demo's fixed texts as the value a command carries.
fn text<T>(parse: fn(String) -> Result<T, DomainError>, text: &str) -> T {
    parse(text.to_owned()).expect("the demo's texts are valid")
}

/// Writes the Fruit Company scenario into an empty data directory.
pub async fn run_demo(data_directory: &Path) -> Result<DemoReport, DemoError> {
    let clock = Arc::new(ManualClock::new(demo_start()));
    let steward = Steward::open(data_directory, clock.clone())?;
    let head = steward.log().head()?;
    if head > 0 {
        return Err(DemoError::NotEmpty(head));
    }
    let mut demo = Demo {
        steward,
        clock,
        next_id: 0,
    };

    // Signups: Olive's first project becomes the Fruit Company, with $200 of promotional credit.
    let (olive, fruit) = demo
        .sign_up(
            "olive@fruit.example",
            "Olive",
            "Grove",
            "Olive's project",
            Some(Nanodollars::from_usd(200)),
        )
        .await?;
    demo.run(
        Actor::Account(olive),
        Command::UpdateProject {
            project_id: fruit,
            name: Some(text(ProjectName::parse, "Fruit Company")),
            company: Some(text(CompanyName::parse, "Fruit Company Ltd")),
        },
    )
    .await?;
    let (adam, _) = demo
        .sign_up(
            "adam@fruit.example",
            "Adam",
            "Apfel",
            "Adam's project",
            None,
        )
        .await?;
    let (mia, _) = demo
        .sign_up("mia@fruit.example", "Mia", "Mango", "Mia's project", None)
        .await?;
    let (nina, _) = demo
        .sign_up(
            "Nina@Fruit.Example",
            "Nina",
            "Nashi",
            "Nina's project",
            None,
        )
        .await?;
    demo.hours(1);

    // Invitations: three accepted (Nina's after a resend), one revoked.
    let adam_token = demo
        .invite(olive, fruit, "adam@fruit.example", Role::Admin)
        .await?;
    let mia_token = demo
        .invite(olive, fruit, "mia@fruit.example", Role::Member)
        .await?;
    let nina_first_token = demo
        .invite(olive, fruit, "nina@fruit.example", Role::Member)
        .await?;
    let _pat_token = demo
        .invite(olive, fruit, "pat@fruit.example", Role::Member)
        .await?;
    demo.hours(24);
    let nina_token = Secret::invitation_token();
    demo.run(
        Actor::Account(olive),
        Command::ResendInvitation {
            project_id: fruit,
            email: email_of("nina@fruit.example"),
            token_hash: nina_token.hash,
            expires_at: demo.clock_now().plus_seconds(7 * 86_400),
        },
    )
    .await?;
    demo.run(
        Actor::Account(olive),
        Command::RevokeInvitation {
            project_id: fruit,
            email: email_of("pat@fruit.example"),
        },
    )
    .await?;
    demo.hours(2);
    demo.accept(adam, &adam_token).await?;
    demo.accept(mia, &mia_token).await?;
    let stale = demo.accept(nina, &nina_first_token).await;
    assert!(
        matches!(
            stale,
            Err(DemoError::Command(CommandError::Domain(
                DomainError::InvitationNotFound
            )))
        ),
        "a resent invitation's old token must be dead: {stale:?}"
    );
    demo.accept(nina, &nina_token).await?;
    demo.run(
        Actor::Account(olive),
        Command::ChangeRole {
            project_id: fruit,
            account_id: nina,
            role: Role::Admin,
        },
    )
    .await?;

    // Credit: an enterprise contract to mid-2027, a short trial contract, a card purchase.
    for (source, usd, expires_at, reference) in [
        (
            CreditSource::Contract,
            1_000,
            Some("2027-06-30T23:59:59Z"),
            "PO-2026-117",
        ),
        (
            CreditSource::Contract,
            5,
            Some("2026-11-15T00:00:00Z"),
            "TRIAL-7",
        ),
        (CreditSource::Card, 50, None, "card-4242"),
    ] {
        let grant_id = GrantId::from_uuid(demo.id());
        demo.run(
            Actor::Operator,
            Command::GrantCredits {
                project_id: fruit,
                grant_id,
                source,
                amount: Nanodollars::from_usd(usd),
                expires_at: expires_at.map(|at| Timestamp::parse_rfc3339(at).expect("valid")),
                reference: Some(text(Reference::parse, reference)),
            },
        )
        .await?;
    }

    // Keys, one per customer of the Fruit Company, and an untagged one for operations.
    let apple = demo
        .create_key(olive, fruit, "apple backend", &["member"], &["apple"])
        .await?;
    let banana = demo
        .create_key(adam, fruit, "banana backend", &["member"], &["banana"])
        .await?;
    let pear = demo
        .create_key(mia, fruit, "pear backend", &["member"], &["pear"])
        .await?;
    let operations = demo
        .create_key(nina, fruit, "operations", &["admin"], &[])
        .await?;

    // A second project, funded by a transfer that keeps each portion's expiry.
    let fruit_labs = ProjectId::from_uuid(demo.id());
    demo.run(
        Actor::Account(olive),
        Command::CreateProject {
            project_id: fruit_labs,
            name: text(ProjectName::parse, "Fruit Labs"),
        },
    )
    .await?;
    let transfer_id = TransferId::from_uuid(demo.id());
    demo.run(
        Actor::Account(olive),
        Command::TransferCredits {
            transfer_id,
            from_project_id: fruit,
            to_project_id: fruit_labs,
            amount: TransferAmount::Amount(Nanodollars::from_usd(25)),
        },
    )
    .await?;

    // November: every day, each key serves a few requests; Mia is removed on the 20th.
    demo.clock
        .set(Timestamp::parse_rfc3339("2026-11-01T08:00:00Z").expect("valid"));
    let prices = PriceTable::default();
    let models = ModelCatalog::default();
    // Support takes Whisper away from Fruit Labs, which has not signed its terms.
    let whisper = models
        .metered("whisper-large")
        .expect("in the default catalog");
    demo.run(
        Actor::Operator,
        Command::SetModelAccess {
            project_id: fruit_labs,
            model_id: whisper.id,
            public: whisper.public,
            allowed: false,
        },
    )
    .await?;
    // Banana, a customer on a plan, gets a soft budget of 50 cents a month: passing it is
    // recorded.
    demo.run(
        Actor::Account(olive),
        Command::SetTagBudget {
            project_id: fruit,
            tag: tag_of("banana"),
            budget: Some(TagBudget {
                monthly: Nanodollars::new(500_000_000),
                hard: false,
            }),
        },
    )
    .await?;
    let mut recorded = 0;
    let mut refused = 0;
    let mut banana_owner = adam;
    for day in 1..=30i64 {
        if day == 10 {
            // Adam moves to another team: his banana key is handed to Nina, unbroken.
            demo.run(
                Actor::Account(olive),
                Command::HandOverKey {
                    project_id: fruit,
                    key_id: banana,
                    to: nina,
                },
            )
            .await?;
            banana_owner = nina;
        }
        if day == 12 {
            // Nina rotates the operations key, the old secret working for one more hour.
            demo.run(
                Actor::Account(nina),
                Command::RotateKey {
                    project_id: fruit,
                    key_id: operations,
                    secret_hash: Secret::api_key().hash,
                    overlap_seconds: 3600,
                },
            )
            .await?;
        }
        if day == 20 {
            demo.run(
                Actor::Account(olive),
                Command::RemoveMember {
                    project_id: fruit,
                    account_id: mia,
                    reassign_keys_to: None,
                },
            )
            .await?;
        }
        for (index, (key_id, owner)) in [
            (apple, olive),
            (banana, banana_owner),
            (pear, mia),
            (operations, nina),
        ]
        .into_iter()
        .enumerate()
        {
            let requests = if key_id == operations { 1 } else { 3 };
            for request in 0..requests {
                demo.clock.advance_seconds(97);
                let audio_seconds = 30 + (day * 7 + index as i64 * 13 + request * 29) % 240;
                let mut tags = Vec::new();
                if key_id == pear && day % 2 == 0 {
                    tags.push(tag_of("juice"));
                }
                if key_id == apple && request == 2 {
                    tags.push(tag_of("priority"));
                }
                let status_code = if key_id == banana && day % 5 == 0 && request == 0 {
                    500
                } else {
                    200
                };
                // Operations speaks (priced per character); the customers' keys listen.
                let (endpoint, model, units) = if key_id == operations {
                    let characters = audio_seconds as u64 * 15;
                    let units = UsageUnits {
                        characters,
                        ..UsageUnits::default()
                    };
                    (Endpoint::Speak, "aura-2-thalia-en", units)
                } else {
                    let units = UsageUnits {
                        audio_milliseconds: audio_seconds as u64 * 1000,
                        ..UsageUnits::default()
                    };
                    (Endpoint::Listen, "nova-3", units)
                };
                // The first request of a day is diarized and formatted, the streaming one
                // punctuated.
                let features: FeatureSet = match (endpoint, request) {
                    (Endpoint::Listen, 0) => [Feature::Diarize, Feature::SmartFormat]
                        .into_iter()
                        .collect(),
                    (Endpoint::Listen, 1) => [Feature::Punctuate].into_iter().collect(),
                    _ => FeatureSet::EMPTY,
                };
                let report = UsageReport {
                    request_id: RequestId::from_uuid(demo.id()),
                    tags,
                    endpoint,
                    method: if request == 1 {
                        RequestMethod::Streaming
                    } else {
                        RequestMethod::Sync
                    },
                    model: models
                        .metered(model)
                        .expect("the demo's models are in the catalog"),
                    deployment: Deployment::Hosted,
                    units,
                    status_code,
                    cost: prices.price(endpoint, model, &units),
                    features,
                };
                let answer = demo
                    .steward
                    .execute(
                        Actor::Key {
                            key_id,
                            account_id: owner,
                        },
                        Command::RecordUsage {
                            project_id: fruit,
                            report,
                        },
                    )
                    .await;
                match answer {
                    Ok(_) => recorded += 1,
                    Err(CommandError::Domain(DomainError::InvalidCredentials))
                        if key_id == pear && day >= 20 =>
                    {
                        refused += 1
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        }
        demo.clock.set(
            Timestamp::parse_rfc3339("2026-11-01T08:00:00Z")
                .expect("valid")
                .plus_seconds(day * 86_400),
        );
    }

    // December 1st: the sweeper records what expired unspent.
    demo.clock
        .set(Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").expect("valid"));
    demo.run(Actor::System, Command::ExpireCredits).await?;

    let events = demo.steward.log().head()?;
    let live_summaries = demo.steward.read(|projections| projections.summaries());
    demo.steward.shutdown()?;
    Ok(DemoReport {
        fruit_company: fruit,
        fruit_labs,
        events,
        requests_recorded: recorded,
        requests_refused_after_removal: refused,
        live_summaries,
    })
}
