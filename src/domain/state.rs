//! The write model: what `decide` needs to know, kept current by `evolve`.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use steward_events::{
    AccountId, CreditSource, Email, Event, GrantId, KeyId, ModelId, Nanodollars, Permissions,
    ProjectId, Role, Scope, Sha256Digest, StreamId, Tag, Timestamp,
};
use steward_projections::budgets::ProjectBudgets;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub accounts: HashMap<AccountId, AccountState>,
    /// Live (not deleted) accounts by email.
    pub account_by_email: HashMap<Email, AccountId>,
    pub projects: HashMap<ProjectId, ProjectState>,
    /// Current invitation tokens; a resent invitation's old token is gone from here.
    pub invitation_by_token: HashMap<Sha256Digest, (ProjectId, Email)>,
    /// The project of every key ever created, so ids stay unique across projects.
    pub key_projects: HashMap<KeyId, ProjectId>,
    /// The project of every grant ever made (transfers make new grants in the receiver).
    pub grant_projects: HashMap<GrantId, ProjectId>,
    /// Every stream's version, for the expected-version check on append.
    pub stream_versions: HashMap<StreamId, u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccountState {
    pub email: Email,
    pub deleted: bool,
    pub projects: BTreeSet<ProjectId>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProjectState {
    pub deleted: bool,
    pub members: BTreeMap<AccountId, Role>,
    pub invitations: BTreeMap<Email, InvitationState>,
    pub keys: HashMap<KeyId, KeyState>,
    pub grants: BTreeMap<GrantId, GrantState>,
    /// The operator's changes to the default model access: granted (`true`) or revoked.
    pub model_access: BTreeMap<ModelId, bool>,
    /// Each tag's monthly budget and month-to-date spend, as the tag budgets projection
    /// derives them.
    pub budgets: ProjectBudgets,
}

/// Whether a project may use a model: the operator's override for it (granted or revoked), if
/// any, else whether the model is public. The one rule, for the write model, the reads and the
/// gateway's check alike.
pub fn may_use_model(override_of_model: Option<bool>, public: bool) -> bool {
    override_of_model.unwrap_or(public)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InvitationState {
    pub role: Role,
    pub token_hash: Sha256Digest,
    pub expires_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyState {
    /// The member the key acts as: its creator, or whom it was last handed to. It dies when
    /// they leave the project.
    pub owner: AccountId,
    pub scopes: Permissions,
    pub tags: Vec<Tag>,
    pub expires_at: Option<Timestamp>,
    /// Deleted, or its creator left the project: it never works again.
    pub deleted: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GrantState {
    pub source: CreditSource,
    pub remaining: Nanodollars,
    pub expires_at: Option<Timestamp>,
    /// Whether `CreditsExpired` has been recorded for it.
    pub expiry_recorded: bool,
}

impl State {
    /// The project, unless it does not exist or was deleted.
    pub fn live_project(&self, project_id: ProjectId) -> Option<&ProjectState> {
        self.projects
            .get(&project_id)
            .filter(|project| !project.deleted)
    }

    pub fn live_account(&self, account_id: AccountId) -> Option<&AccountState> {
        self.accounts
            .get(&account_id)
            .filter(|account| !account.deleted)
    }
}

impl ProjectState {
    pub fn owner_count(&self) -> usize {
        self.members
            .values()
            .filter(|&&role| role == Role::Owner)
            .count()
    }
}

fn project_mut(state: &mut State, project_id: ProjectId) -> &mut ProjectState {
    state
        .projects
        .get_mut(&project_id)
        .expect("events name only projects created before them")
}

/// Ends a membership; the keys acting as the member in the project die for good.
fn end_membership(state: &mut State, project_id: ProjectId, account_id: AccountId) {
    let project = project_mut(state, project_id);
    project.members.remove(&account_id);
    for key in project.keys.values_mut() {
        if key.owner == account_id {
            key.deleted = true;
        }
    }
    if let Some(account) = state.accounts.get_mut(&account_id) {
        account.projects.remove(&project_id);
    }
}

/// Applies one event, recorded at `recorded_at`, to the write model. Holds no rules and cannot
/// fail: the event was decided valid when it was recorded.
pub fn evolve(state: &mut State, event: &Event, recorded_at: Timestamp) {
    *state.stream_versions.entry(event.stream()).or_insert(0) += 1;
    match event {
        Event::AccountRegistered {
            account_id, email, ..
        } => {
            state.accounts.insert(
                *account_id,
                AccountState {
                    email: email.clone(),
                    deleted: false,
                    projects: BTreeSet::new(),
                },
            );
            state.account_by_email.insert(email.clone(), *account_id);
        }
        Event::AccountDeleted { account_id } => {
            if let Some(account) = state.accounts.get_mut(account_id) {
                account.deleted = true;
                state.account_by_email.remove(&account.email);
            }
        }
        Event::ProjectCreated { project_id, .. } => {
            state.projects.insert(*project_id, ProjectState::default());
        }
        Event::ProjectRenamed { .. } | Event::ProjectCompanyChanged { .. } => {}
        Event::ProjectDeleted { project_id } => {
            let project = project_mut(state, *project_id);
            project.deleted = true;
            let members: Vec<AccountId> = project.members.keys().copied().collect();
            let token_hashes: Vec<Sha256Digest> =
                project.invitations.values().map(|i| i.token_hash).collect();
            for token_hash in token_hashes {
                state.invitation_by_token.remove(&token_hash);
            }
            for account_id in members {
                if let Some(account) = state.accounts.get_mut(&account_id) {
                    account.projects.remove(project_id);
                }
            }
        }
        Event::MemberInvited {
            project_id,
            email,
            role,
            token_hash,
            expires_at,
            ..
        } => {
            let replaced = project_mut(state, *project_id).invitations.insert(
                email.clone(),
                InvitationState {
                    role: *role,
                    token_hash: *token_hash,
                    expires_at: *expires_at,
                },
            );
            if let Some(replaced) = replaced {
                state.invitation_by_token.remove(&replaced.token_hash);
            }
            state
                .invitation_by_token
                .insert(*token_hash, (*project_id, email.clone()));
        }
        Event::InvitationResent {
            project_id,
            email,
            token_hash,
            expires_at,
        } => {
            let invitation = project_mut(state, *project_id)
                .invitations
                .get_mut(email)
                .expect("only a pending invitation is resent");
            let old_token_hash = std::mem::replace(&mut invitation.token_hash, *token_hash);
            invitation.expires_at = *expires_at;
            state.invitation_by_token.remove(&old_token_hash);
            state
                .invitation_by_token
                .insert(*token_hash, (*project_id, email.clone()));
        }
        Event::InvitationRevoked { project_id, email }
        | Event::InvitationAccepted {
            project_id, email, ..
        } => {
            if let Some(invitation) = project_mut(state, *project_id).invitations.remove(email) {
                state.invitation_by_token.remove(&invitation.token_hash);
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
            project_mut(state, *project_id)
                .members
                .insert(*account_id, *role);
            if let Some(account) = state.accounts.get_mut(account_id) {
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
        } => end_membership(state, *project_id, *account_id),
        Event::ApiKeyCreated {
            project_id,
            key_id,
            created_by,
            scopes,
            tags,
            expires_at,
            ..
        } => {
            state.key_projects.insert(*key_id, *project_id);
            project_mut(state, *project_id).keys.insert(
                *key_id,
                KeyState {
                    owner: *created_by,
                    scopes: Scope::union_of(scopes),
                    tags: tags.clone(),
                    expires_at: *expires_at,
                    deleted: false,
                },
            );
        }
        Event::ApiKeyDeleted { project_id, key_id } => {
            if let Some(key) = project_mut(state, *project_id).keys.get_mut(key_id) {
                key.deleted = true;
            }
        }
        Event::CreditsGranted {
            project_id,
            grant_id,
            source,
            amount,
            expires_at,
            ..
        } => {
            state.grant_projects.insert(*grant_id, *project_id);
            project_mut(state, *project_id).grants.insert(
                *grant_id,
                GrantState {
                    source: *source,
                    remaining: *amount,
                    expires_at: *expires_at,
                    expiry_recorded: false,
                },
            );
        }
        Event::CreditsTransferredOut {
            from_project_id,
            portions,
            ..
        } => {
            let project = project_mut(state, *from_project_id);
            for portion in portions {
                if let Some(grant) = project.grants.get_mut(&portion.from_grant_id) {
                    grant.remaining = portion.from_grant_remaining;
                }
            }
        }
        Event::CreditsTransferredIn {
            to_project_id,
            portions,
            ..
        } => {
            for portion in portions {
                state
                    .grant_projects
                    .insert(portion.to_grant_id, *to_project_id);
            }
            let project = project_mut(state, *to_project_id);
            for portion in portions {
                project.grants.insert(
                    portion.to_grant_id,
                    GrantState {
                        source: portion.source,
                        remaining: portion.amount,
                        expires_at: portion.expires_at,
                        expiry_recorded: false,
                    },
                );
            }
        }
        Event::CreditsConsumed {
            project_id,
            portions,
            ..
        } => {
            let project = project_mut(state, *project_id);
            for portion in portions {
                if let Some(grant) = project.grants.get_mut(&portion.grant_id) {
                    grant.remaining = portion.remaining;
                }
            }
        }
        Event::CreditsExpired {
            project_id,
            grant_id,
            ..
        } => {
            if let Some(grant) = project_mut(state, *project_id).grants.get_mut(grant_id) {
                grant.remaining = Nanodollars::ZERO;
                grant.expiry_recorded = true;
            }
        }
        // Which request ids were recorded is the log's request index's to say (see the
        // processor); spending is recorded by `CreditsConsumed`, and per tag here.
        Event::UsageRecorded { project_id, .. }
        | Event::TagBudgetSet { project_id, .. }
        | Event::TagBudgetRemoved { project_id, .. }
        | Event::TagBudgetPassed { project_id, .. } => {
            project_mut(state, *project_id)
                .budgets
                .apply(event, recorded_at);
        }
        Event::ApiKeyOwnerChanged {
            project_id,
            key_id,
            to,
            ..
        } => {
            if let Some(key) = project_mut(state, *project_id).keys.get_mut(key_id) {
                key.owner = *to;
            }
        }
        // Secrets are the edge's to check (the key validity projection).
        Event::ApiKeyRotated { .. } => {}
        Event::ModelAccessGranted {
            project_id,
            model_id,
        } => {
            project_mut(state, *project_id)
                .model_access
                .insert(*model_id, true);
        }
        Event::ModelAccessRevoked {
            project_id,
            model_id,
        } => {
            project_mut(state, *project_id)
                .model_access
                .insert(*model_id, false);
        }
    }
}

/// Replays the whole log into a fresh write model.
pub fn load_state(log: &dyn steward_events::EventLog) -> Result<State, steward_events::LogError> {
    let mut state = State::default();
    for envelope in log.read_from(1) {
        let envelope = envelope?;
        evolve(&mut state, &envelope.event, envelope.recorded_at);
    }
    Ok(state)
}
