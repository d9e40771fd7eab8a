//! Accounts: registering one with its first project, and deleting one.

use super::{check_amount, project, require_operator, Context};
use crate::domain::{command::Registration, error::DomainError};
use steward_events::{AccountId, Actor, CreditSource, Event, RemovalReason, Role};

/// Signup (by the system) or the operator: the account, its first project (owned by it), and
/// promotional credit if any, expiring one year later.
pub(super) fn register(
    cx: &Context,
    registration: &Registration,
) -> Result<Vec<Event>, DomainError> {
    let Registration {
        account_id,
        email,
        first_name,
        last_name,
        password_hash,
        project_id,
        project_name,
        promotional_credit,
    } = registration;
    require_operator(cx)?;
    let state = cx.state;
    if state.account_by_email.contains_key(email) {
        return Err(DomainError::EmailTaken);
    }
    if state.accounts.contains_key(account_id) || state.projects.contains_key(project_id) {
        return Err(DomainError::AlreadyExists);
    }
    let mut events = vec![
        Event::AccountRegistered {
            account_id: *account_id,
            email: email.clone(),
            first_name: first_name.to_string(),
            last_name: last_name.to_string(),
            password_hash: password_hash.clone(),
        },
        Event::ProjectCreated {
            project_id: *project_id,
            name: project_name.to_string(),
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
            expires_at: Some(cx.now.plus_months(12)),
            reference: Some("signup".into()),
        });
    }
    Ok(events)
}

/// By the account itself or the operator: it leaves every project (a project it alone belongs
/// to is deleted), and its keys die. Refused while it is the sole owner of a shared project.
pub(super) fn delete(cx: &Context, account_id: AccountId) -> Result<Vec<Event>, DomainError> {
    let allowed = match *cx.actor {
        Actor::Operator | Actor::System => true,
        Actor::Account(acting) => acting == account_id,
        Actor::Key { .. } => false,
    };
    if !allowed {
        return Err(DomainError::InsufficientPermissions);
    }
    let account = cx
        .state
        .live_account(account_id)
        .ok_or(DomainError::AccountNotFound)?;
    let mut events = Vec::new();
    for &project_id in &account.projects {
        let project = project(cx.state, project_id)?;
        if project.members.len() == 1 {
            events.push(Event::ProjectDeleted { project_id });
            continue;
        }
        if project.members.get(&account_id) == Some(&Role::Owner) {
            super::ensure_keeps_an_owner(project, Role::Owner)?;
        }
        events.push(Event::MemberRemoved {
            project_id,
            account_id,
            reason: RemovalReason::AccountDeleted,
        });
    }
    events.push(Event::AccountDeleted { account_id });
    Ok(events)
}
