//! `decide`: every business rule, as one pure function of the state, the actor, the command,
//! what the log's indexes know, and the time. One module per aggregate holds its rules; this
//! one dispatches, and holds the checks they share.

mod accounts;
mod budgets;
mod credits;
mod invitations;
mod keys;
mod membership;
mod projects;
mod usage;

use super::{
    command::Command,
    error::DomainError,
    state::{ProjectState, State},
};
use crate::limits;
use steward_events::{
    is_expired, AccountId, Actor, Event, Nanodollars, Permission, Permissions, ProjectId, Role,
    Timestamp,
};

/// What the log's indexes know that the write model does not keep in memory: the processor
/// looks it up before deciding and passes it in, so that `decide` stays pure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Known {
    /// The request id of a `RecordUsage` is already recorded in its project.
    pub request_recorded: bool,
}

/// What one decision reads besides its command.
pub(super) struct Context<'a> {
    pub state: &'a State,
    pub actor: &'a Actor,
    pub known: Known,
    pub now: Timestamp,
}

/// Decides `command`, issued by `actor` at `now`, against `state` and what the log `known`s.
pub fn decide(
    state: &State,
    actor: &Actor,
    command: &Command,
    known: Known,
    now: Timestamp,
) -> Result<Vec<Event>, DomainError> {
    let cx = &Context {
        state,
        actor,
        known,
        now,
    };
    let events = dispatch(cx, command)?;
    if events.len() > limits::EVENTS_PER_COMMAND_MAX {
        return Err(DomainError::CommandTooLarge);
    }
    Ok(events)
}

fn dispatch(cx: &Context, command: &Command) -> Result<Vec<Event>, DomainError> {
    match command {
        Command::RegisterAccount(registration) => accounts::register(cx, registration),
        Command::DeleteAccount { account_id } => accounts::delete(cx, *account_id),
        Command::CreateProject { project_id, name } => projects::create(cx, *project_id, name),
        Command::UpdateProject {
            project_id,
            name,
            company,
        } => projects::update(cx, *project_id, name.as_ref(), company.as_ref()),
        Command::DeleteProject { project_id } => projects::delete(cx, *project_id),
        Command::InviteMember {
            project_id,
            email,
            role,
            token_hash,
            expires_at,
        } => invitations::invite(cx, *project_id, email, *role, *token_hash, *expires_at),
        Command::ResendInvitation {
            project_id,
            email,
            token_hash,
            expires_at,
        } => invitations::resend(cx, *project_id, email, *token_hash, *expires_at),
        Command::RevokeInvitation { project_id, email } => {
            invitations::revoke(cx, *project_id, email)
        }
        Command::AcceptInvitation { token_hash } => invitations::accept(cx, token_hash),
        Command::ChangeRole {
            project_id,
            account_id,
            role,
        } => membership::change_role(cx, *project_id, *account_id, *role),
        Command::RemoveMember {
            project_id,
            account_id,
            reassign_keys_to,
        } => membership::remove(cx, *project_id, *account_id, *reassign_keys_to),
        Command::LeaveProject { project_id } => membership::leave(cx, *project_id),
        Command::CreateKey(key) => keys::create(cx, key),
        Command::DeleteKey { project_id, key_id } => keys::delete(cx, *project_id, *key_id),
        Command::HandOverKey {
            project_id,
            key_id,
            to,
        } => keys::hand_over(cx, *project_id, *key_id, *to),
        Command::RotateKey {
            project_id,
            key_id,
            secret_hash,
            overlap_seconds,
        } => keys::rotate(cx, *project_id, *key_id, *secret_hash, *overlap_seconds),
        Command::SetTagBudget {
            project_id,
            tag,
            budget,
        } => budgets::set(cx, *project_id, tag, *budget),
        Command::GrantCredits {
            project_id,
            grant_id,
            source,
            amount,
            expires_at,
            reference,
        } => credits::grant(
            cx,
            *project_id,
            *grant_id,
            *source,
            *amount,
            *expires_at,
            reference.as_ref(),
        ),
        Command::TransferCredits {
            transfer_id,
            from_project_id,
            to_project_id,
            amount,
        } => credits::transfer(cx, *transfer_id, *from_project_id, *to_project_id, amount),
        Command::RecordUsage { project_id, report } => usage::record(cx, *project_id, report),
        Command::ExpireCredits => credits::expire(cx),
        Command::SetModelAccess {
            project_id,
            model_id,
            public,
            allowed,
        } => usage::set_model_access(cx, *project_id, *model_id, *public, *allowed),
    }
}

/// What an actor may do in one project.
pub(super) struct Access {
    /// The person acting (a key acts as its owner); `None` for the operator and the system.
    pub account_id: Option<AccountId>,
    /// The person's role; the operator and the system count as owners.
    pub role: Role,
    pub permissions: Permissions,
}

impl Access {
    pub fn require(&self, permission: Permission) -> Result<(), DomainError> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(DomainError::InsufficientPermissions)
        }
    }

    pub fn person(&self) -> Result<AccountId, DomainError> {
        self.account_id.ok_or(DomainError::AccountRequired)
    }
}

/// The live project, or `ProjectNotFound`.
pub(super) fn project(state: &State, project_id: ProjectId) -> Result<&ProjectState, DomainError> {
    state
        .live_project(project_id)
        .ok_or(DomainError::ProjectNotFound)
}

/// Resolves what the actor may do in `project_id`. A project the actor cannot see is not found.
pub(super) fn access<'s>(
    cx: &Context<'s>,
    project_id: ProjectId,
) -> Result<(Access, &'s ProjectState), DomainError> {
    let state = cx.state;
    let project = project(state, project_id)?;
    let access = match *cx.actor {
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
            let role = project.members.get(&key.owner).copied();
            let valid = !key.deleted
                && !is_expired(key.expires_at, cx.now)
                && state.live_account(key.owner).is_some();
            let (true, Some(role)) = (valid, role) else {
                return Err(DomainError::InvalidCredentials);
            };
            Access {
                account_id: Some(key.owner),
                role,
                permissions: key.scopes.intersection(role.permissions()),
            }
        }
    };
    Ok((access, project))
}

/// The person acting through a session (not a key, the operator or the system).
pub(super) fn person(cx: &Context) -> Result<AccountId, DomainError> {
    match *cx.actor {
        Actor::Account(account_id) => cx
            .state
            .live_account(account_id)
            .map(|_| account_id)
            .ok_or(DomainError::InvalidCredentials),
        _ => Err(DomainError::AccountRequired),
    }
}

/// Refuses anyone but the operator and the system (the sweeper, signup).
pub(super) fn require_operator(cx: &Context) -> Result<(), DomainError> {
    match cx.actor {
        Actor::Operator | Actor::System => Ok(()),
        _ => Err(DomainError::InsufficientPermissions),
    }
}

/// Refuses to take the owner role from someone whose `role` is the project's last owner (a
/// project always keeps an owner).
pub(super) fn ensure_keeps_an_owner(project: &ProjectState, role: Role) -> Result<(), DomainError> {
    if role == Role::Owner && project.owner_count() == 1 {
        return Err(DomainError::SoleOwner);
    }
    Ok(())
}

/// A grant's or transfer's amount: positive, at most `AMOUNT_MAX`.
pub(super) fn check_amount(amount: Nanodollars) -> Result<(), DomainError> {
    if !amount.is_positive() || amount > limits::AMOUNT_MAX {
        return Err(DomainError::InvalidAmount);
    }
    Ok(())
}

/// What a project holds in all, spendable or not.
pub(super) fn balance(project: &ProjectState) -> Nanodollars {
    project.grants.values().map(|grant| grant.remaining).sum()
}

/// The items in their first-seen order, without repeats.
pub(super) fn dedup<T: Clone + PartialEq>(items: &[T]) -> Vec<T> {
    let mut unique: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !unique.contains(item) {
            unique.push(item.clone());
        }
    }
    unique
}
