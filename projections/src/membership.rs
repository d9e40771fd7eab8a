//! Membership: accounts, projects, their members with roles, and pending invitations; and for
//! each live project the spans of time each member held each role and each invitation could be
//! accepted, so that a read can ask who was in the project at any instant (`as_of`).

use crate::Projection;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use steward_events::{AccountId, Email, Envelope, Event, ProjectId, Role, Sha256Digest, Timestamp};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccountView {
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub registered_at: Timestamp,
    pub deleted: bool,
    pub projects: BTreeSet<ProjectId>,
    /// Kept for login and in checkpoints; JSON (snapshots, digests) shows null.
    #[serde(with = "crate::binary_only")]
    pub password_hash: Option<String>,
}

/// Who an account is, as lists of members and keys show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InvitationView {
    pub role: Role,
    pub invited_by: AccountId,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
    /// The hash of the token that accepts it now (a resend replaces it): what the mail worker
    /// checks before sending an email. Kept in checkpoints, not shown in JSON.
    #[serde(with = "crate::binary_only")]
    pub token_hash: Option<Sha256Digest>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProjectView {
    pub name: String,
    pub company: Option<String>,
    pub created_by: AccountId,
    pub created_at: Timestamp,
    pub deleted: bool,
    pub members: BTreeMap<AccountId, Role>,
    pub invitations: BTreeMap<Email, InvitationView>,
}

/// A live project's past, kept apart from `ProjectView` so that reading the project copies
/// none of it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProjectHistory {
    /// Every span of time a member held a role, oldest first: one per join or role change.
    pub member_spans: Vec<MemberSpan>,
    /// Every span of time an invitation could be accepted, oldest first: one per invitation
    /// or resend, ending at its expiry or when it was resent, revoked or accepted.
    pub invitation_spans: Vec<InvitationSpan>,
}

/// A member held `role` from `from` until `until` (still, if `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSpan {
    pub account_id: AccountId,
    pub role: Role,
    pub from: Timestamp,
    pub until: Option<Timestamp>,
}

/// An invitation of `email` into `role` could be accepted from `from` until `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationSpan {
    pub email: Email,
    pub role: Role,
    pub from: Timestamp,
    pub until: Timestamp,
}

fn holds_at(from: Timestamp, until: Option<Timestamp>, at: Timestamp) -> bool {
    from <= at && until.is_none_or(|until| at < until)
}

impl ProjectHistory {
    /// The members and their roles at `at`.
    pub fn members_at(&self, at: Timestamp) -> BTreeMap<AccountId, Role> {
        (self.member_spans.iter())
            .filter(|span| holds_at(span.from, span.until, at))
            .map(|span| (span.account_id, span.role))
            .collect()
    }

    /// The invitations that could be accepted at `at`, by email.
    pub fn invitations_at(&self, at: Timestamp) -> BTreeMap<Email, Role> {
        (self.invitation_spans.iter())
            .filter(|span| holds_at(span.from, Some(span.until), at))
            .map(|span| (span.email.clone(), span.role))
            .collect()
    }

    /// Ends the open span of `account_id`, if any, at `at`.
    fn end_member_span(&mut self, account_id: AccountId, at: Timestamp) {
        let open = (self.member_spans.iter_mut().rev())
            .find(|span| span.account_id == account_id && span.until.is_none());
        if let Some(span) = open {
            span.until = Some(at);
        }
    }

    /// Ends the latest invitation of `email`, if any, at `at` (or its expiry, if sooner).
    fn end_invitation_span(&mut self, email: &Email, at: Timestamp) {
        let current = (self.invitation_spans.iter_mut().rev()).find(|span| &span.email == email);
        if let Some(span) = current {
            span.until = span.until.min(at);
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Membership {
    pub accounts: BTreeMap<AccountId, AccountView>,
    pub projects: BTreeMap<ProjectId, ProjectView>,
    /// Each live project's past.
    pub history: BTreeMap<ProjectId, ProjectHistory>,
    /// Live accounts by email, for login and invitations; derived, so not serialized.
    #[serde(skip)]
    account_by_email: HashMap<Email, AccountId>,
    /// Pending invitations by the hash of the token that accepts them; derived, so not
    /// serialized.
    #[serde(skip)]
    invitation_by_token: HashMap<Sha256Digest, (ProjectId, Email)>,
}

impl Membership {
    /// Rebuilds the derived index after a checkpoint is loaded.
    pub fn restore(&mut self) {
        self.account_by_email = self
            .accounts
            .iter()
            .filter(|(_, account)| !account.deleted)
            .map(|(account_id, account)| (account.email.clone(), *account_id))
            .collect();
        self.invitation_by_token = (self.projects.iter())
            .flat_map(|(project_id, project)| {
                (project.invitations.iter()).filter_map(move |(email, invitation)| {
                    Some((invitation.token_hash?, (*project_id, email.clone())))
                })
            })
            .collect();
    }

    /// The pending invitation `token_hash` accepts, with its live project: what the console's
    /// accept page shows.
    pub fn invitation_by_token(
        &self,
        token_hash: &Sha256Digest,
    ) -> Option<(ProjectId, &ProjectView, &Email, &InvitationView)> {
        let (project_id, email) = self.invitation_by_token.get(token_hash)?;
        let project = self.project(*project_id)?;
        let invitation = project.invitations.get(email)?;
        Some((*project_id, project, email, invitation))
    }

    pub fn account_by_email(&self, email: &Email) -> Option<(AccountId, &AccountView)> {
        let account_id = *self.account_by_email.get(email)?;
        Some((account_id, &self.accounts[&account_id]))
    }

    /// The project unless it does not exist or was deleted.
    pub fn project(&self, project_id: ProjectId) -> Option<&ProjectView> {
        self.projects
            .get(&project_id)
            .filter(|project| !project.deleted)
    }

    /// The live projects an account belongs to, in id order.
    pub fn projects_of(&self, account_id: AccountId) -> Vec<ProjectId> {
        self.accounts
            .get(&account_id)
            .map(|account| account.projects.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The email and names of an account, empty for an unknown one.
    pub fn person(&self, account_id: AccountId) -> Person {
        let account = self.accounts.get(&account_id);
        Person {
            email: account.map(|a| a.email.to_string()).unwrap_or_default(),
            first_name: account.map(|a| a.first_name.clone()).unwrap_or_default(),
            last_name: account.map(|a| a.last_name.clone()).unwrap_or_default(),
        }
    }

    /// A live project's invitations that can still be accepted at `now`, by email.
    pub fn pending_invitations(&self, project_id: ProjectId, now: Timestamp) -> Vec<(Email, Role)> {
        self.project(project_id)
            .map(|project| {
                project
                    .invitations
                    .iter()
                    .filter(|(_, invitation)| invitation.expires_at > now)
                    .map(|(email, invitation)| (email.clone(), invitation.role))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The role of `account_id` in a live project, if a member.
    pub fn role(&self, project_id: ProjectId, account_id: AccountId) -> Option<Role> {
        self.project(project_id)?.members.get(&account_id).copied()
    }

    /// A live project's past.
    pub fn history(&self, project_id: ProjectId) -> Option<&ProjectHistory> {
        self.history.get(&project_id)
    }

    fn history_mut(&mut self, project_id: ProjectId) -> &mut ProjectHistory {
        self.history.entry(project_id).or_default()
    }

    fn project_mut(&mut self, project_id: ProjectId) -> &mut ProjectView {
        self.projects
            .get_mut(&project_id)
            .expect("events name only projects created before them")
    }
}

impl Projection for Membership {
    const NAME: &'static str = "membership";

    fn apply(&mut self, envelope: &Envelope) {
        let at = envelope.recorded_at;
        match &envelope.event {
            Event::AccountRegistered {
                account_id,
                email,
                first_name,
                last_name,
                password_hash,
            } => {
                self.accounts.insert(
                    *account_id,
                    AccountView {
                        email: email.clone(),
                        first_name: first_name.clone(),
                        last_name: last_name.clone(),
                        registered_at: at,
                        deleted: false,
                        projects: BTreeSet::new(),
                        password_hash: password_hash.clone(),
                    },
                );
                self.account_by_email.insert(email.clone(), *account_id);
            }
            Event::AccountDeleted { account_id } => {
                if let Some(account) = self.accounts.get_mut(account_id) {
                    account.deleted = true;
                    account.password_hash = None;
                    self.account_by_email.remove(&account.email);
                }
            }
            Event::ProjectCreated {
                project_id,
                name,
                created_by,
            } => {
                self.projects.insert(
                    *project_id,
                    ProjectView {
                        name: name.clone(),
                        company: None,
                        created_by: *created_by,
                        created_at: at,
                        deleted: false,
                        members: BTreeMap::new(),
                        invitations: BTreeMap::new(),
                    },
                );
                self.history.insert(*project_id, ProjectHistory::default());
            }
            Event::ProjectRenamed { project_id, name } => {
                self.project_mut(*project_id).name = name.clone();
            }
            Event::ProjectCompanyChanged {
                project_id,
                company,
            } => {
                self.project_mut(*project_id).company = Some(company.clone());
            }
            Event::ProjectDeleted { project_id } => {
                let project = self.project_mut(*project_id);
                project.deleted = true;

                let members: Vec<AccountId> = project.members.keys().copied().collect();
                for account_id in members {
                    if let Some(account) = self.accounts.get_mut(&account_id) {
                        account.projects.remove(project_id);
                    }
                }
                // Nobody reads a deleted project's past.
                self.history.remove(project_id);
            }
            Event::MemberInvited {
                project_id,
                email,
                role,
                invited_by,
                expires_at,
                token_hash,
            } => {
                (self.invitation_by_token).insert(*token_hash, (*project_id, email.clone()));
                let history = self.history_mut(*project_id);
                history.end_invitation_span(email, at);
                history.invitation_spans.push(InvitationSpan {
                    email: email.clone(),
                    role: *role,
                    from: at,
                    until: *expires_at,
                });
                self.project_mut(*project_id).invitations.insert(
                    email.clone(),
                    InvitationView {
                        role: *role,
                        invited_by: *invited_by,
                        sent_at: at,
                        expires_at: *expires_at,
                        token_hash: Some(*token_hash),
                    },
                );
            }
            Event::InvitationResent {
                project_id,
                email,
                expires_at,
                token_hash,
            } => {
                let history = self.history.entry(*project_id).or_default();
                history.end_invitation_span(email, at);
                let project = self
                    .projects
                    .get_mut(project_id)
                    .expect("a created project");
                if let Some(invitation) = project.invitations.get_mut(email) {
                    history.invitation_spans.push(InvitationSpan {
                        email: email.clone(),
                        role: invitation.role,
                        from: at,
                        until: *expires_at,
                    });
                    invitation.sent_at = at;
                    invitation.expires_at = *expires_at;
                    if let Some(old) = invitation.token_hash.replace(*token_hash) {
                        self.invitation_by_token.remove(&old);
                    }
                    (self.invitation_by_token).insert(*token_hash, (*project_id, email.clone()));
                }
            }
            Event::InvitationRevoked { project_id, email }
            | Event::InvitationAccepted {
                project_id, email, ..
            } => {
                self.history_mut(*project_id).end_invitation_span(email, at);
                let removed = self.project_mut(*project_id).invitations.remove(email);
                if let Some(token_hash) = removed.and_then(|invitation| invitation.token_hash) {
                    self.invitation_by_token.remove(&token_hash);
                }
            }
            Event::MemberJoined {
                project_id,
                account_id,
                role,
            }
            | Event::RoleChanged {
                project_id,
                account_id,
                to: role,
                ..
            } => {
                let history = self.history_mut(*project_id);
                history.end_member_span(*account_id, at);
                history.member_spans.push(MemberSpan {
                    account_id: *account_id,
                    role: *role,
                    from: at,
                    until: None,
                });
                self.project_mut(*project_id)
                    .members
                    .insert(*account_id, *role);
                if let Some(account) = self.accounts.get_mut(account_id) {
                    account.projects.insert(*project_id);
                }
            }
            Event::MemberRemoved {
                project_id,
                account_id,
                ..
            }
            | Event::MemberLeft {
                project_id,
                account_id,
            } => {
                self.history_mut(*project_id)
                    .end_member_span(*account_id, at);
                self.project_mut(*project_id).members.remove(account_id);
                if let Some(account) = self.accounts.get_mut(account_id) {
                    account.projects.remove(project_id);
                }
            }
            Event::ApiKeyCreated { .. }
            | Event::ApiKeyDeleted { .. }
            | Event::CreditsGranted { .. }
            | Event::CreditsTransferredOut { .. }
            | Event::CreditsTransferredIn { .. }
            | Event::CreditsConsumed { .. }
            | Event::CreditsExpired { .. }
            | Event::UsageRecorded { .. }
            | Event::ModelAccessGranted { .. }
            | Event::ModelAccessRevoked { .. }
            | Event::ApiKeyOwnerChanged { .. }
            | Event::ApiKeyRotated { .. }
            | Event::TagBudgetSet { .. }
            | Event::TagBudgetRemoved { .. }
            | Event::TagBudgetPassed { .. } => {}
        }
    }
}
