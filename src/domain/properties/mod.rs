//! Property tests: random command sequences keep the invariants.
//!
//! - credit never negative, and for every project granted + received = remaining + consumed +
//!   expired + sent;
//! - expired credit is never spent;
//! - every live project with members keeps an owner;
//! - no key is valid whose owner (its creator, or whom it was handed to) is not a member of its
//!   project or whose account is gone;
//! - a secret replaced by a rotation never works once its overlap has ended;
//! - no request takes a tag's spend this month past a hard budget in force;
//! - the projections agree with the write model about who is a member with which role, and
//!   so do the membership spans asked about the present (`as_of` now);
//! - replaying what was recorded gives the same read models.

mod ops;

use super::*;
use ops::*;
use proptest::prelude::*;
use steward_events::*;
use steward_projections::{keys::KeyRejection, Projections};
use uuid::Uuid;

struct World {
    state: State,
    projections: Projections,
    /// Every envelope applied, to check that a replay gives the same read models.
    history: Vec<Envelope>,
    now: Timestamp,
    keys: Vec<(KeyId, ProjectId)>,
    /// Every secret each key was given, with when it stops working once replaced.
    secrets: Vec<(KeyId, Sha256Digest, Option<Timestamp>)>,
    grants: Vec<GrantId>,
    next_id: u128,
}

impl World {
    fn new() -> Self {
        let mut world = Self {
            state: State::default(),
            projections: Projections::default(),
            history: Vec::new(),
            now: Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap(),
            keys: Vec::new(),
            secrets: Vec::new(),
            grants: Vec::new(),
            next_id: 1_000,
        };
        for n in 0..ACCOUNTS {
            let command = Command::RegisterAccount(Registration {
                account_id: account(n),
                email: email(n),
                first_name: "".into(),
                last_name: "".into(),
                password_hash: None,
                project_id: ProjectId::from_uuid(Uuid::from_u128(200 + u128::from(n))),
                project_name: "own".into(),
                promotional_credit: None,
            });
            world.run(Actor::System, command).unwrap();
        }
        // Account 0 owns both shared projects; the others join the first in every role, and
        // account 1 the second as an owner, so that transfers between them can happen.
        for n in 0..PROJECTS {
            let command = Command::CreateProject {
                project_id: project(n),
                name: "shared".into(),
            };
            world.run(Actor::Account(account(0)), command).unwrap();
        }
        for (p, invitee, role) in [
            (0, 1, Role::Owner),
            (0, 2, Role::Admin),
            (0, 3, Role::Member),
            (1, 1, Role::Owner),
        ] {
            world.apply(Op::Invite {
                actor: 0,
                project: p,
                invitee,
                role: role as u8,
            });
            world.apply(Op::Accept {
                account: invitee,
                project: p,
            });
        }
        assert_eq!(world.state.projects[&project(0)].members.len(), 4);
        world
    }

    fn id(&mut self) -> Uuid {
        self.next_id += 1;
        Uuid::from_u128(self.next_id)
    }

    fn run(&mut self, actor: Actor, command: Command) -> Result<(), DomainError> {
        let events = decide(&self.state, &actor, &command, Known::default(), self.now)?;
        for event in events {
            assert!(
                steward_events::codec::fits(&event),
                "a decided event does not fit a record: {event:?}"
            );
            self.check_spending(&event);
            self.check_budgets(&event);
            evolve(&mut self.state, &event, self.now);
            let position = self.projections.position() + 1;
            let envelope = Envelope {
                position,
                stream: event.stream(),
                stream_version: self.state.stream_versions[&event.stream()],
                event_id: EventId::from_uuid(Uuid::from_u128(u128::from(position))),
                recorded_at: self.now,
                actor,
                correlation_id: Uuid::nil(),
                schema_version: 1,
                event,
            };
            self.projections.apply(&envelope);
            self.history.push(envelope);
        }
        Ok(())
    }

    /// Replaying everything recorded gives the same read models, balances included.
    fn check_replay(&self) {
        let mut replayed = Projections::default();
        for envelope in &self.history {
            replayed.apply(envelope);
        }
        assert_eq!(replayed.summaries(), self.projections.summaries());
    }

    /// Before a consumption or transfer lands: it spends only credit unexpired now.
    fn check_spending(&self, event: &Event) {
        let (project_id, grant_ids): (ProjectId, Vec<GrantId>) = match event {
            Event::CreditsConsumed {
                project_id,
                portions,
                ..
            } => (*project_id, portions.iter().map(|p| p.grant_id).collect()),
            Event::CreditsTransferredOut {
                from_project_id,
                portions,
                ..
            } => (
                *from_project_id,
                portions.iter().map(|p| p.from_grant_id).collect(),
            ),
            _ => return,
        };
        let credits = self.projections.credits.project(project_id).unwrap();
        for grant_id in grant_ids {
            let grant = &credits.grants[&grant_id];
            assert!(
                !grant.is_expired_at(self.now),
                "spent expired grant {grant_id:?}"
            );
        }
    }

    /// Before a request lands: it takes no tag past a hard budget in force.
    fn check_budgets(&self, event: &Event) {
        let Event::UsageRecorded {
            project_id,
            tags,
            cost,
            ..
        } = event
        else {
            return;
        };
        let budgets = &self.state.projects[project_id].budgets;
        for tag in tags {
            if let Some(budget) = budgets.budgets.get(tag).filter(|budget| budget.hard) {
                let spent = budgets.spend.spent(tag, self.now);
                assert!(
                    !cost.is_positive() || spent + *cost <= budget.monthly,
                    "{tag} passed its hard budget {:?}: {spent:?} + {cost:?}",
                    budget.monthly
                );
            }
        }
    }

    fn apply(&mut self, op: Op) {
        let person = |n: u8| Actor::Account(account(n));
        let _ = match op {
            Op::Invite {
                actor,
                project: p,
                invitee,
                role: r,
            } => self.run(
                person(actor),
                Command::InviteMember {
                    project_id: project(p),
                    email: email(invitee),
                    role: role(r),
                    token_hash: token(p, invitee),
                    expires_at: self.now.plus_seconds(7 * 86_400),
                },
            ),
            Op::Accept {
                account: n,
                project: p,
            } => self.run(
                person(n),
                Command::AcceptInvitation {
                    token_hash: token(p, n),
                },
            ),
            Op::ChangeRole {
                actor,
                project: p,
                target,
                role: r,
            } => self.run(
                person(actor),
                Command::ChangeRole {
                    project_id: project(p),
                    account_id: account(target),
                    role: role(r),
                },
            ),
            Op::Remove {
                actor,
                project: p,
                target,
                reassign_to,
            } => self.run(
                person(actor),
                Command::RemoveMember {
                    project_id: project(p),
                    account_id: account(target),
                    reassign_keys_to: reassign_to.map(account),
                },
            ),
            Op::Leave {
                account: n,
                project: p,
            } => self.run(
                person(n),
                Command::LeaveProject {
                    project_id: project(p),
                },
            ),
            Op::CreateKey {
                actor,
                project: p,
                role: r,
                tag: t,
            } => {
                let key_id = KeyId::from_uuid(self.id());
                let mut secret = [0u8; 32];
                secret[..16].copy_from_slice(key_id.as_bytes());
                let created = self.run(
                    person(actor),
                    Command::CreateKey(NewKey {
                        project_id: project(p),
                        key_id,
                        secret_hash: Sha256Digest::from_bytes(secret),
                        comment: "".into(),
                        scopes: vec![Scope::Role(role(r))],
                        tags: t.map(tag).into_iter().collect(),
                        expires_at: None,
                    }),
                );
                if created.is_ok() {
                    self.keys.push((key_id, project(p)));
                    self.secrets
                        .push((key_id, Sha256Digest::from_bytes(secret), None));
                }
                created
            }
            Op::DeleteKey { actor, key } => match self.pick_key(key) {
                Some((key_id, project_id)) => {
                    self.run(person(actor), Command::DeleteKey { project_id, key_id })
                }
                None => Ok(()),
            },
            Op::HandOver { actor, key, to } => match self.pick_key(key) {
                Some((key_id, project_id)) => self.run(
                    person(actor),
                    Command::HandOverKey {
                        project_id,
                        key_id,
                        to: account(to),
                    },
                ),
                None => Ok(()),
            },
            Op::Rotate {
                actor,
                key,
                overlap_hours,
            } => match self.pick_key(key) {
                Some((key_id, project_id)) => {
                    let mut secret = [0xAA; 32];
                    secret[..16].copy_from_slice(self.id().as_bytes());
                    let secret_hash = Sha256Digest::from_bytes(secret);
                    let overlap_seconds = i64::from(overlap_hours) * 3_600;
                    let rotated = self.run(
                        person(actor),
                        Command::RotateKey {
                            project_id,
                            key_id,
                            secret_hash,
                            overlap_seconds,
                        },
                    );
                    if rotated.is_ok() {
                        let until = self.now.plus_seconds(overlap_seconds);
                        for (of_key, _, ends) in &mut self.secrets {
                            if *of_key == key_id {
                                // The one replaced before stops now; the current one at `until`.
                                *ends = Some(ends.map_or(until, |ends| ends.min(self.now)));
                            }
                        }
                        self.secrets.push((key_id, secret_hash, None));
                    }
                    rotated
                }
                None => Ok(()),
            },
            Op::SetBudget {
                actor,
                project: p,
                tag: t,
                monthly_cents,
                hard,
            } => self.run(
                person(actor),
                Command::SetTagBudget {
                    project_id: project(p),
                    tag: tag(t),
                    budget: Some(TagBudget {
                        monthly: Nanodollars::new(i64::from(monthly_cents) * 10_000_000),
                        hard,
                    }),
                },
            ),
            Op::RemoveBudget {
                actor,
                project: p,
                tag: t,
            } => self.run(
                person(actor),
                Command::SetTagBudget {
                    project_id: project(p),
                    tag: tag(t),
                    budget: None,
                },
            ),
            Op::UseKey {
                key,
                cost_cents,
                failed,
                tag: t,
            } => match self.pick_key(key) {
                Some((key_id, project_id)) => {
                    let request_id = RequestId::from_uuid(self.id());
                    let owner = self.state.projects[&project_id].keys[&key_id].owner;
                    self.run(
                        Actor::Key {
                            key_id,
                            account_id: owner,
                        },
                        Command::RecordUsage {
                            project_id,
                            report: UsageReport {
                                request_id,
                                tags: t.map(tag).into_iter().collect(),
                                endpoint: Endpoint::Listen,
                                method: RequestMethod::Sync,
                                model: "nova-3".into(),
                                features: steward_events::FeatureSet::EMPTY,
                                deployment: Deployment::Hosted,
                                units: UsageUnits::default(),
                                status_code: if failed { 500 } else { 200 },
                                cost: Nanodollars::new(i64::from(cost_cents) * 10_000_000),
                            },
                        },
                    )
                }
                None => Ok(()),
            },
            Op::Grant {
                project: p,
                source,
                amount_cents,
                expiry_days,
            } => {
                let source = [
                    CreditSource::Promotional,
                    CreditSource::Contract,
                    CreditSource::Card,
                ][usize::from(source % 3)];
                let expires_at = (source != CreditSource::Card)
                    .then(|| self.now.plus_seconds(i64::from(expiry_days) * 86_400));
                let grant_id = GrantId::from_uuid(self.id());
                self.grants.push(grant_id);
                self.run(
                    Actor::Operator,
                    Command::GrantCredits {
                        project_id: project(p),
                        grant_id,
                        source,
                        amount: Nanodollars::new(i64::from(amount_cents) * 10_000_000),
                        expires_at,
                        reference: None,
                    },
                )
            }
            Op::Transfer {
                actor,
                from,
                amount_cents,
                whole,
            } => {
                let amount = if whole && !self.grants.is_empty() {
                    TransferAmount::WholeGrant(self.grants[usize::from(from) % self.grants.len()])
                } else {
                    TransferAmount::Amount(Nanodollars::new(i64::from(amount_cents) * 10_000_000))
                };
                let transfer_id = TransferId::from_uuid(self.id());
                self.run(
                    person(actor),
                    Command::TransferCredits {
                        transfer_id,
                        from_project_id: project(from),
                        to_project_id: project(from.wrapping_add(1)),
                        amount,
                    },
                )
            }
            Op::Advance { days } => {
                self.now = self.now.plus_seconds(i64::from(days) * 86_400);
                Ok(())
            }
            Op::Expire => self.run(Actor::System, Command::ExpireCredits),
            Op::DeleteAccount { account: n } => self.run(
                person(n),
                Command::DeleteAccount {
                    account_id: account(n),
                },
            ),
        };
        self.check_invariants();
    }

    fn pick_key(&self, index: u8) -> Option<(KeyId, ProjectId)> {
        (!self.keys.is_empty()).then(|| self.keys[usize::from(index) % self.keys.len()])
    }

    fn check_invariants(&self) {
        for (project_id, credits) in &self.projections.credits.projects {
            let ledger = credits.ledger;
            for grant in credits.grants.values() {
                assert!(
                    grant.remaining >= Nanodollars::ZERO,
                    "negative grant in {project_id:?}"
                );
            }
            assert_eq!(
                ledger.granted + ledger.received,
                LedgerTotal::from(credits.remaining())
                    + ledger.consumed
                    + ledger.expired
                    + ledger.sent,
                "credit not conserved in {project_id:?}: {ledger:?}"
            );
            let state_remaining: Nanodollars = self.state.projects[project_id]
                .grants
                .values()
                .map(|grant| grant.remaining)
                .sum();
            assert_eq!(state_remaining, credits.remaining());
        }
        for (project_id, project) in &self.state.projects {
            if !project.deleted && !project.members.is_empty() {
                assert!(
                    project.owner_count() >= 1,
                    "{project_id:?} lost its last owner"
                );
            }
            if !project.deleted {
                let membership = &self.projections.membership;
                let view = &membership.projects[project_id];
                assert_eq!(view.members, project.members);
                // The past, asked of the present, is the present.
                let history = membership
                    .history(*project_id)
                    .expect("a live project's past");
                assert_eq!(history.members_at(self.now), project.members);
                let pending: Vec<(Email, Role)> =
                    history.invitations_at(self.now).into_iter().collect();
                assert_eq!(
                    pending,
                    membership.pending_invitations(*project_id, self.now)
                );
            }
        }
        for &(key_id, project_id) in &self.keys {
            match self.projections.keys.check_id(key_id, self.now) {
                Ok(valid) => {
                    let project = self.state.live_project(project_id).expect("live project");
                    let owner = project.keys[&key_id].owner;
                    assert_eq!(valid.account_id, owner, "the key acts as another");
                    assert!(
                        project.members.contains_key(&owner),
                        "valid key of a non-member"
                    );
                    assert!(self.state.live_account(owner).is_some());
                    assert!(valid.permissions.is_subset_of(valid.role.permissions()));
                }
                Err(KeyRejection::Unknown) => panic!("a created key is unknown"),
                Err(_) => {}
            }
        }
        for &(key_id, secret_hash, ends) in &self.secrets {
            let checked = self.projections.keys.check(&secret_hash, self.now);
            if ends.is_some_and(|ends| ends <= self.now) {
                assert!(
                    checked.is_err(),
                    "a replaced secret of {key_id:?} still works"
                );
            } else {
                let by_id = self.projections.keys.check_id(key_id, self.now);
                assert_eq!(checked, by_id, "a working secret answers as its key");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_every_invariant(ops in prop::collection::vec(op(), 1..120)) {
        let mut world = World::new();
        for op in ops {
            world.apply(op);
        }
        world.check_replay();
    }
}
