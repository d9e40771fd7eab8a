//! `decide`: every business rule, as one pure function of the state, the actor, the command
//! and the time — but one: that a request id is recorded once per project, which the
//! processor checks against the log's request index before deciding.

use super::{
    command::{Command, TransferAmount, UsageReport},
    credit::{is_expired, spend_order},
    error::DomainError,
    state::{ProjectState, State},
};
use steward_events::{
    AccountId, Actor, ConsumedPortion, CreditSource, Email, Event, GrantId, Nanodollars,
    Permission, Permissions, ProjectId, RemovalReason, Role, Scope, Tag, Timestamp,
    TransferPortion,
};
use uuid::Uuid;

/// Named bounds on what one command may carry.
pub mod limits {
    use steward_events::Nanodollars;

    pub const NAME_CHARS: usize = 100;
    pub const COMMENT_CHARS: usize = 256;
    pub const REFERENCE_CHARS: usize = 256;
    pub const MODEL_CHARS: usize = 128;
    pub const SCOPES_PER_KEY: usize = 64;
    pub const TAGS_PER_KEY: usize = 32;
    pub const TAGS_PER_REQUEST: usize = 32;
    /// The largest single grant or transfer: one billion dollars.
    pub const MAX_AMOUNT: Nanodollars = Nanodollars::from_usd(1_000_000_000);
    /// The largest balance a project may hold, so that no sum of balances overflows.
    pub const MAX_PROJECT_BALANCE: Nanodollars = Nanodollars::from_usd(4_000_000_000);
    /// The most one request may cost: one million dollars.
    pub const MAX_REQUEST_COST: Nanodollars = Nanodollars::from_usd(1_000_000);
}

/// What an actor may do in one project.
struct Access {
    /// The person acting (a key acts as its creator); `None` for the operator and the system.
    account_id: Option<AccountId>,
    /// The person's role; the operator and the system count as owners.
    role: Role,
    permissions: Permissions,
}

impl Access {
    fn require(&self, permission: Permission) -> Result<(), DomainError> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(DomainError::InsufficientPermissions)
        }
    }

    fn person(&self) -> Result<AccountId, DomainError> {
        self.account_id.ok_or(DomainError::AccountRequired)
    }
}

fn project(state: &State, project_id: ProjectId) -> Result<&ProjectState, DomainError> {
    state
        .live_project(project_id)
        .ok_or(DomainError::ProjectNotFound)
}

/// Resolves what `actor` may do in `project_id`. A project the actor cannot see is not found.
fn access<'s>(
    state: &'s State,
    actor: &Actor,
    project_id: ProjectId,
    now: Timestamp,
) -> Result<(Access, &'s ProjectState), DomainError> {
    let project = project(state, project_id)?;
    let access = match *actor {
        Actor::Operator | Actor::System => Access {
            account_id: None,
            role: Role::Owner,
            permissions: Role::Owner.permissions(),
        },
        Actor::Account(account_id) => {
            state
                .live_account(account_id)
                .ok_or(DomainError::InvalidCredentials)?;
            let role = *project
                .members
                .get(&account_id)
                .ok_or(DomainError::ProjectNotFound)?;
            Access {
                account_id: Some(account_id),
                role,
                permissions: role.permissions(),
            }
        }
        Actor::Key { key_id, .. } => {
            let Some(key) = project.keys.get(&key_id) else {
                return Err(DomainError::ProjectNotFound);
            };
            let role = project.members.get(&key.created_by).copied();
            let valid = !key.deleted
                && !is_expired(key.expires_at, now)
                && state.live_account(key.created_by).is_some();
            let (true, Some(role)) = (valid, role) else {
                return Err(DomainError::InvalidCredentials);
            };
            Access {
                account_id: Some(key.created_by),
                role,
                permissions: key.scopes.intersection(role.permissions()),
            }
        }
    };
    Ok((access, project))
}

/// Checks that `actor` may resend or revoke the pending invitation of `email`: the right to
/// invite at all, and to invite into the invitation's role.
fn manage_invitation(
    state: &State,
    actor: &Actor,
    project_id: ProjectId,
    email: &Email,
    now: Timestamp,
) -> Result<(), DomainError> {
    let (access, project) = access(state, actor, project_id, now)?;
    access.require(Permission::MembersWriteInvites)?;
    let invitation = project
        .invitations
        .get(email)
        .ok_or(DomainError::InvitationNotFound)?;
    access.require(invitation.role.invite_permission())
}

fn person(state: &State, actor: &Actor) -> Result<AccountId, DomainError> {
    match *actor {
        Actor::Account(account_id) => state
            .live_account(account_id)
            .map(|_| account_id)
            .ok_or(DomainError::InvalidCredentials),
        _ => Err(DomainError::AccountRequired),
    }
}

fn check_name(name: &str) -> Result<(), DomainError> {
    let length = name.trim().chars().count();
    if length == 0
        || name.chars().count() > limits::NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(DomainError::InvalidName);
    }
    Ok(())
}

fn check_amount(amount: Nanodollars) -> Result<(), DomainError> {
    if !amount.is_positive() || amount > limits::MAX_AMOUNT {
        return Err(DomainError::InvalidAmount);
    }
    Ok(())
}

fn balance(project: &ProjectState) -> Nanodollars {
    project.grants.values().map(|grant| grant.remaining).sum()
}

/// Decides `command`, issued by `actor` at `now`, against `state`.
pub fn decide(
    state: &State,
    actor: &Actor,
    command: &Command,
    now: Timestamp,
) -> Result<Vec<Event>, DomainError> {
    match command {
        Command::RegisterAccount {
            account_id,
            email,
            first_name,
            last_name,
            password_hash,
            project_id,
            project_name,
            promotional_credit,
        } => {
            if !matches!(actor, Actor::System | Actor::Operator) {
                return Err(DomainError::InsufficientPermissions);
            }
            if state.account_by_email.contains_key(email) {
                return Err(DomainError::EmailTaken);
            }
            if state.accounts.contains_key(account_id) || state.projects.contains_key(project_id) {
                return Err(DomainError::AlreadyExists);
            }
            check_name(project_name)?;
            for name in [first_name, last_name] {
                if name.chars().count() > limits::NAME_CHARS || name.chars().any(char::is_control) {
                    return Err(DomainError::InvalidName);
                }
            }
            let mut events = vec![
                Event::AccountRegistered {
                    account_id: *account_id,
                    email: email.clone(),
                    first_name: first_name.clone(),
                    last_name: last_name.clone(),
                    password_hash: password_hash.clone(),
                },
                Event::ProjectCreated {
                    project_id: *project_id,
                    name: project_name.clone(),
                    created_by: *account_id,
                },
                Event::MemberJoined {
                    project_id: *project_id,
                    account_id: *account_id,
                    role: Role::Owner,
                },
            ];
            if let Some((grant_id, amount)) = promotional_credit {
                check_amount(*amount)?;
                events.push(Event::CreditsGranted {
                    project_id: *project_id,
                    grant_id: *grant_id,
                    source: CreditSource::Promotional,
                    amount: *amount,
                    expires_at: Some(now.plus_months(12)),
                    reference: Some("signup".into()),
                });
            }
            Ok(events)
        }

        Command::DeleteAccount { account_id } => {
            let allowed = match *actor {
                Actor::Operator | Actor::System => true,
                Actor::Account(acting) => acting == *account_id,
                Actor::Key { .. } => false,
            };
            if !allowed {
                return Err(DomainError::InsufficientPermissions);
            }
            let account = state
                .live_account(*account_id)
                .ok_or(DomainError::AccountNotFound)?;
            let mut events = Vec::new();
            for &project_id in &account.projects {
                let project = project(state, project_id)?;
                let sole_member = project.members.len() == 1;
                let sole_owner = project.members.get(account_id) == Some(&Role::Owner)
                    && project.owner_count() == 1;
                events.push(if sole_member {
                    Event::ProjectDeleted { project_id }
                } else if sole_owner {
                    return Err(DomainError::SoleOwner);
                } else {
                    Event::MemberRemoved {
                        project_id,
                        account_id: *account_id,
                        reason: RemovalReason::AccountDeleted,
                    }
                });
            }
            events.push(Event::AccountDeleted {
                account_id: *account_id,
            });
            Ok(events)
        }

        Command::CreateProject { project_id, name } => {
            let account_id = person(state, actor)?;
            if state.projects.contains_key(project_id) {
                return Err(DomainError::AlreadyExists);
            }
            check_name(name)?;
            Ok(vec![
                Event::ProjectCreated {
                    project_id: *project_id,
                    name: name.clone(),
                    created_by: account_id,
                },
                Event::MemberJoined {
                    project_id: *project_id,
                    account_id,
                    role: Role::Owner,
                },
            ])
        }

        Command::UpdateProject {
            project_id,
            name,
            company,
        } => {
            let (access, _) = access(state, actor, *project_id, now)?;
            access.require(Permission::ProjectWrite)?;
            let mut events = Vec::new();
            if let Some(name) = name {
                check_name(name)?;
                events.push(Event::ProjectRenamed {
                    project_id: *project_id,
                    name: name.clone(),
                });
            }
            if let Some(company) = company {
                if company.chars().count() > limits::NAME_CHARS
                    || company.chars().any(char::is_control)
                {
                    return Err(DomainError::InvalidName);
                }
                events.push(Event::ProjectCompanyChanged {
                    project_id: *project_id,
                    company: company.clone(),
                });
            }
            Ok(events)
        }

        Command::DeleteProject { project_id } => {
            let (access, _) = access(state, actor, *project_id, now)?;
            access.require(Permission::ProjectWriteDestroy)?;
            Ok(vec![Event::ProjectDeleted {
                project_id: *project_id,
            }])
        }

        Command::InviteMember {
            project_id,
            email,
            role,
            token_hash,
            expires_at,
        } => {
            let (access, project) = access(state, actor, *project_id, now)?;
            access.require(Permission::MembersWriteInvites)?;
            // Only roles at or above `role` hold its invite permission, so this is also the
            // rule that nobody grants a role above their own.
            access.require(role.invite_permission())?;
            let invited_by = access.person()?;
            if let Some(account_id) = state.account_by_email.get(email) {
                if project.members.contains_key(account_id) {
                    return Err(DomainError::AlreadyMember);
                }
            }
            if let Some(pending) = project.invitations.get(email) {
                if !is_expired(Some(pending.expires_at), now) {
                    return Err(DomainError::AlreadyInvited);
                }
            }
            if *expires_at <= now {
                return Err(DomainError::ExpiryInPast);
            }
            Ok(vec![Event::MemberInvited {
                project_id: *project_id,
                email: email.clone(),
                role: *role,
                invited_by,
                token_hash: *token_hash,
                expires_at: *expires_at,
            }])
        }

        Command::ResendInvitation {
            project_id,
            email,
            token_hash,
            expires_at,
        } => {
            manage_invitation(state, actor, *project_id, email, now)?;
            if *expires_at <= now {
                return Err(DomainError::ExpiryInPast);
            }
            Ok(vec![Event::InvitationResent {
                project_id: *project_id,
                email: email.clone(),
                token_hash: *token_hash,
                expires_at: *expires_at,
            }])
        }

        Command::RevokeInvitation { project_id, email } => {
            manage_invitation(state, actor, *project_id, email, now)?;
            Ok(vec![Event::InvitationRevoked {
                project_id: *project_id,
                email: email.clone(),
            }])
        }

        Command::AcceptInvitation { token_hash } => {
            let account_id = person(state, actor)?;
            let (project_id, email) = state
                .invitation_by_token
                .get(token_hash)
                .ok_or(DomainError::InvitationNotFound)?;
            let project = project(state, *project_id)?;
            let invitation = project
                .invitations
                .get(email)
                .ok_or(DomainError::InvitationNotFound)?;
            if is_expired(Some(invitation.expires_at), now) {
                return Err(DomainError::InvitationExpired);
            }
            let account = state
                .live_account(account_id)
                .ok_or(DomainError::InvalidCredentials)?;
            if &account.email != email {
                return Err(DomainError::InvitationEmailMismatch);
            }
            if project.members.contains_key(&account_id) {
                return Err(DomainError::AlreadyMember);
            }
            Ok(vec![
                Event::InvitationAccepted {
                    project_id: *project_id,
                    email: email.clone(),
                    account_id,
                },
                Event::MemberJoined {
                    project_id: *project_id,
                    account_id,
                    role: invitation.role,
                },
            ])
        }

        Command::ChangeRole {
            project_id,
            account_id,
            role,
        } => {
            let (access, project) = access(state, actor, *project_id, now)?;
            let current = *project
                .members
                .get(account_id)
                .ok_or(DomainError::MemberNotFound)?;
            access.require(Permission::MembersWriteScopes)?;
            access.require(current.change_permission())?;
            // As for invitations: holding the new role's permission implies holding the role.
            access.require(role.change_permission())?;
            if current == *role {
                return Ok(vec![]);
            }
            if current == Role::Owner && project.owner_count() == 1 {
                return Err(DomainError::SoleOwner);
            }
            Ok(vec![Event::RoleChanged {
                project_id: *project_id,
                account_id: *account_id,
                from: current,
                to: *role,
            }])
        }

        Command::RemoveMember {
            project_id,
            account_id,
        } => {
            let (access, project) = access(state, actor, *project_id, now)?;
            let current = *project
                .members
                .get(account_id)
                .ok_or(DomainError::MemberNotFound)?;
            access.require(Permission::MembersWriteKick)?;
            access.require(current.kick_permission())?;
            if current == Role::Owner && project.owner_count() == 1 {
                return Err(DomainError::SoleOwner);
            }
            Ok(vec![Event::MemberRemoved {
                project_id: *project_id,
                account_id: *account_id,
                reason: RemovalReason::Kicked,
            }])
        }

        Command::LeaveProject { project_id } => {
            let (access, project) = access(state, actor, *project_id, now)?;
            let account_id = access.person()?;
            if access.role == Role::Owner && project.owner_count() == 1 {
                return Err(DomainError::SoleOwner);
            }
            Ok(vec![Event::MemberLeft {
                project_id: *project_id,
                account_id,
            }])
        }

        Command::CreateKey {
            project_id,
            key_id,
            secret_hash,
            comment,
            scopes,
            tags,
            expires_at,
        } => {
            let (access, _) = access(state, actor, *project_id, now)?;
            access.require(Permission::KeysWrite)?;
            let created_by = access.person()?;
            if scopes.is_empty() || scopes.len() > limits::SCOPES_PER_KEY {
                return Err(DomainError::InvalidScopes);
            }
            if !Scope::union_of(scopes).is_subset_of(access.permissions) {
                return Err(DomainError::ScopeBeyondOwn);
            }
            if comment.chars().count() > limits::COMMENT_CHARS
                || comment.chars().any(char::is_control)
            {
                return Err(DomainError::InvalidComment);
            }
            if tags.len() > limits::TAGS_PER_KEY {
                return Err(DomainError::TooManyTags);
            }
            if expires_at.is_some_and(|expires_at| expires_at <= now) {
                return Err(DomainError::ExpiryInPast);
            }
            if state.key_projects.contains_key(key_id) {
                return Err(DomainError::AlreadyExists);
            }
            Ok(vec![Event::ApiKeyCreated {
                project_id: *project_id,
                key_id: *key_id,
                created_by,
                comment: comment.clone(),
                scopes: dedup(scopes),
                tags: dedup(tags),
                expires_at: *expires_at,
                secret_hash: *secret_hash,
            }])
        }

        Command::DeleteKey { project_id, key_id } => {
            let (access, project) = access(state, actor, *project_id, now)?;
            access.require(Permission::KeysWrite)?;
            let key = project
                .keys
                .get(key_id)
                .filter(|key| !key.deleted)
                .ok_or(DomainError::KeyNotFound)?;
            // Anyone with keys:write deletes their own keys; another member's take the right
            // to manage members.
            if access.account_id != Some(key.created_by) {
                access.require(Permission::MembersWrite)?;
            }
            Ok(vec![Event::ApiKeyDeleted {
                project_id: *project_id,
                key_id: *key_id,
            }])
        }

        Command::GrantCredits {
            project_id,
            grant_id,
            source,
            amount,
            expires_at,
            reference,
        } => {
            if !matches!(actor, Actor::Operator | Actor::System) {
                return Err(DomainError::InsufficientPermissions);
            }
            let project = project(state, *project_id)?;
            check_amount(*amount)?;
            match (source, expires_at) {
                (CreditSource::Card, None) => {}
                (CreditSource::Contract | CreditSource::Promotional, Some(expires_at)) => {
                    if *expires_at <= now {
                        return Err(DomainError::ExpiryInPast);
                    }
                }
                _ => return Err(DomainError::InvalidExpiry),
            }
            if reference
                .as_ref()
                .is_some_and(|reference| reference.chars().count() > limits::REFERENCE_CHARS)
            {
                return Err(DomainError::InvalidReference);
            }
            if state.grant_projects.contains_key(grant_id) {
                return Err(DomainError::AlreadyExists);
            }
            if balance(project) + *amount > limits::MAX_PROJECT_BALANCE {
                return Err(DomainError::InvalidAmount);
            }
            Ok(vec![Event::CreditsGranted {
                project_id: *project_id,
                grant_id: *grant_id,
                source: *source,
                amount: *amount,
                expires_at: *expires_at,
                reference: reference.clone(),
            }])
        }

        Command::TransferCredits {
            transfer_id,
            from_project_id,
            to_project_id,
            amount,
        } => {
            if from_project_id == to_project_id {
                return Err(DomainError::SameProject);
            }
            // A key is bound to one project, so it can never speak for both sides.
            if matches!(actor, Actor::Key { .. }) {
                return Err(DomainError::AccountRequired);
            }
            let (from_access, from) = access(state, actor, *from_project_id, now)?;
            let (to_access, to) = access(state, actor, *to_project_id, now)?;
            from_access.require(Permission::BillingWrite)?;
            to_access.require(Permission::BillingWrite)?;
            let taken: Vec<(GrantId, &super::state::GrantState, Nanodollars)> = match amount {
                TransferAmount::Amount(amount) => {
                    check_amount(*amount)?;
                    let mut left = *amount;
                    let mut taken = Vec::new();
                    for (grant_id, grant) in spend_order(&from.grants, now) {
                        if !left.is_positive() {
                            break;
                        }
                        let portion = left.min(grant.remaining);
                        left -= portion;
                        taken.push((grant_id, grant, portion));
                    }
                    if left.is_positive() {
                        return Err(DomainError::InsufficientCredit);
                    }
                    taken
                }
                TransferAmount::WholeGrant(grant_id) => {
                    let grant = from
                        .grants
                        .get(grant_id)
                        .ok_or(DomainError::GrantNotFound)?;
                    if !grant.remaining.is_positive() || is_expired(grant.expires_at, now) {
                        return Err(DomainError::InsufficientCredit);
                    }
                    vec![(*grant_id, grant, grant.remaining)]
                }
            };
            let moved: Nanodollars = taken.iter().map(|(_, _, portion)| *portion).sum();
            if balance(to) + moved > limits::MAX_PROJECT_BALANCE {
                return Err(DomainError::InvalidAmount);
            }
            let portions: Vec<TransferPortion> = taken
                .into_iter()
                .map(|(grant_id, grant, portion)| TransferPortion {
                    from_grant_id: grant_id,
                    to_grant_id: GrantId::from_uuid(Uuid::new_v5(
                        transfer_id.as_uuid(),
                        grant_id.as_bytes(),
                    )),
                    source: grant.source,
                    amount: portion,
                    expires_at: grant.expires_at,
                    from_grant_remaining: grant.remaining - portion,
                })
                .collect();
            Ok(vec![
                Event::CreditsTransferredOut {
                    transfer_id: *transfer_id,
                    from_project_id: *from_project_id,
                    to_project_id: *to_project_id,
                    portions: portions.clone(),
                },
                Event::CreditsTransferredIn {
                    transfer_id: *transfer_id,
                    from_project_id: *from_project_id,
                    to_project_id: *to_project_id,
                    portions,
                },
            ])
        }

        Command::RecordUsage { project_id, report } => {
            let Actor::Key { key_id, .. } = *actor else {
                return Err(DomainError::InsufficientPermissions);
            };
            let (access, project) = access(state, actor, *project_id, now)?;
            access.require(Permission::UsageWrite)?;
            record_usage(project, *project_id, key_id, report, now)
        }

        Command::ExpireCredits => {
            if !matches!(actor, Actor::Operator | Actor::System) {
                return Err(DomainError::InsufficientPermissions);
            }
            let mut project_ids: Vec<&ProjectId> = state.projects.keys().collect();
            project_ids.sort();
            let mut events = Vec::new();
            for project_id in project_ids {
                for (grant_id, grant) in &state.projects[project_id].grants {
                    if !grant.expiry_recorded
                        && grant.remaining.is_positive()
                        && is_expired(grant.expires_at, now)
                    {
                        events.push(Event::CreditsExpired {
                            project_id: *project_id,
                            grant_id: *grant_id,
                            amount: grant.remaining,
                        });
                    }
                }
            }
            Ok(events)
        }
    }
}

fn record_usage(
    project: &ProjectState,
    project_id: ProjectId,
    key_id: steward_events::KeyId,
    report: &UsageReport,
    now: Timestamp,
) -> Result<Vec<Event>, DomainError> {
    if report.tags.len() > limits::TAGS_PER_REQUEST {
        return Err(DomainError::TooManyTags);
    }
    let model_chars = report.model.chars().count();
    if model_chars == 0 || model_chars > limits::MODEL_CHARS {
        return Err(DomainError::InvalidModel);
    }
    if report.cost < Nanodollars::ZERO || report.cost > limits::MAX_REQUEST_COST {
        return Err(DomainError::InvalidAmount);
    }
    let cost = if report.status_code >= 400 {
        Nanodollars::ZERO
    } else {
        report.cost
    };
    let key = &project.keys[&key_id];
    let tags: Vec<Tag> = dedup(&[key.tags.as_slice(), report.tags.as_slice()].concat());
    let mut events = vec![Event::UsageRecorded {
        project_id,
        request_id: report.request_id,
        key_id,
        tags,
        endpoint: report.endpoint,
        method: report.method,
        model: report.model.clone(),
        deployment: report.deployment,
        units: report.units,
        cost,
        status_code: report.status_code,
    }];
    if cost.is_positive() {
        let mut left = cost;
        let mut portions = Vec::new();
        for (grant_id, grant) in spend_order(&project.grants, now) {
            if !left.is_positive() {
                break;
            }
            let amount = left.min(grant.remaining);
            left -= amount;
            portions.push(ConsumedPortion {
                grant_id,
                amount,
                remaining: grant.remaining - amount,
            });
        }
        if left.is_positive() {
            return Err(DomainError::InsufficientCredit);
        }
        events.push(Event::CreditsConsumed {
            project_id,
            request_id: report.request_id,
            portions,
        });
    }
    Ok(events)
}

/// The items in their first-seen order, without repeats.
fn dedup<T: Clone + PartialEq>(items: &[T]) -> Vec<T> {
    let mut unique: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !unique.contains(item) {
            unique.push(item.clone());
        }
    }
    unique
}
