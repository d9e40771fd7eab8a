//! Credit: grants by the operator, transfers between projects (each portion keeps its source
//! and expiry), and the expiry sweep.

use super::{access, balance, check_amount, project, require_operator, Context};
use crate::{
    domain::{
        command::TransferAmount,
        credit::spend_order,
        error::DomainError,
        state::{GrantState, ProjectState},
        Reference,
    },
    limits,
};
use std::collections::BTreeMap;
use steward_events::{
    is_expired, Actor, CreditSource, Event, GrantId, Nanodollars, Permission, ProjectId, Timestamp,
    TransferId, TransferPortion,
};
use uuid::Uuid;

/// The operator grants credit: card credit never expires; contract and promotional credit
/// expire at a future instant.
pub(super) fn grant(
    cx: &Context,
    project_id: ProjectId,
    grant_id: GrantId,
    source: CreditSource,
    amount: Nanodollars,
    expires_at: Option<Timestamp>,
    reference: Option<&Reference>,
) -> Result<Vec<Event>, DomainError> {
    require_operator(cx)?;
    let project = project(cx.state, project_id)?;
    check_amount(amount)?;
    match (source, expires_at) {
        (CreditSource::Card, None) => {}
        (CreditSource::Contract | CreditSource::Promotional, Some(expires_at)) => {
            if expires_at <= cx.now {
                return Err(DomainError::ExpiryInPast);
            }
        }
        _ => return Err(DomainError::InvalidExpiry),
    }
    if cx.state.grant_projects.contains_key(&grant_id) {
        return Err(DomainError::AlreadyExists);
    }
    if balance(project) + amount > limits::PROJECT_BALANCE_MAX {
        return Err(DomainError::InvalidAmount);
    }
    ensure_room_for_balances(project, 1)?;
    Ok(vec![Event::CreditsGranted {
        project_id,
        grant_id,
        source,
        amount,
        expires_at,
        reference: reference.map(Reference::to_string),
    }])
}

/// Moves credit between two projects the actor holds billing:write in, portion by portion.
pub(super) fn transfer(
    cx: &Context,
    transfer_id: TransferId,
    from_project_id: ProjectId,
    to_project_id: ProjectId,
    amount: &TransferAmount,
) -> Result<Vec<Event>, DomainError> {
    if from_project_id == to_project_id {
        return Err(DomainError::SameProject);
    }
    // A key is bound to one project, so it can never speak for both sides.
    if matches!(cx.actor, Actor::Key { .. }) {
        return Err(DomainError::AccountRequired);
    }
    let (from_access, from) = access(cx, from_project_id)?;
    let (to_access, to) = access(cx, to_project_id)?;
    from_access.require(Permission::BillingWrite)?;
    to_access.require(Permission::BillingWrite)?;
    let taken = take(cx, &from.grants, amount)?;
    if taken.len() > limits::PORTIONS_PER_EVENT_MAX {
        return Err(DomainError::TooManyPortions);
    }
    let moved: Nanodollars = taken.iter().map(|(_, _, portion)| *portion).sum();
    if balance(to) + moved > limits::PROJECT_BALANCE_MAX {
        return Err(DomainError::InvalidAmount);
    }
    ensure_room_for_balances(to, taken.len())?;
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
            transfer_id,
            from_project_id,
            to_project_id,
            portions: portions.clone(),
        },
        Event::CreditsTransferredIn {
            transfer_id,
            from_project_id,
            to_project_id,
            portions,
        },
    ])
}

/// The portions a transfer of `amount` takes from `grants`: an amount in spending order, all
/// that is left of one grant, or part of it. Only the operator (support) moves promotional
/// credit; a person's amount is taken from contract and card credit alone.
fn take<'a>(
    cx: &Context,
    grants: &'a BTreeMap<GrantId, GrantState>,
    amount: &TransferAmount,
) -> Result<Vec<(GrantId, &'a GrantState, Nanodollars)>, DomainError> {
    let by_support = matches!(cx.actor, Actor::Operator | Actor::System);
    let movable = |grant: &GrantState| by_support || grant.source != CreditSource::Promotional;
    let (grant_id, portion) = match *amount {
        TransferAmount::Amount(amount) => {
            check_amount(amount)?;
            let usable = grants.iter().filter(|(_, grant)| movable(grant));
            return match take_in_spend_order(cx, usable, amount) {
                Some(taken) => Ok(taken),
                // The amount is there, but only with promotional credit: support's to move.
                None if take_in_spend_order(cx, grants.iter(), amount).is_some() => {
                    Err(DomainError::PromotionalCreditBySupportOnly)
                }
                None => Err(DomainError::InsufficientCredit),
            };
        }
        TransferAmount::WholeGrant(grant_id) => (grant_id, None),
        TransferAmount::PartOfGrant(grant_id, amount) => {
            check_amount(amount)?;
            (grant_id, Some(amount))
        }
    };
    let grant = grants.get(&grant_id).ok_or(DomainError::GrantNotFound)?;
    if !movable(grant) {
        return Err(DomainError::PromotionalCreditBySupportOnly);
    }
    let portion = portion.unwrap_or(grant.remaining);
    if !grant.remaining.is_positive()
        || is_expired(grant.expires_at, cx.now)
        || portion > grant.remaining
    {
        return Err(DomainError::InsufficientCredit);
    }
    Ok(vec![(grant_id, grant, portion)])
}

/// `amount` taken from `grants` in spending order, or `None` if they cannot cover it.
fn take_in_spend_order<'a>(
    cx: &Context,
    grants: impl Iterator<Item = (&'a GrantId, &'a GrantState)>,
    amount: Nanodollars,
) -> Option<Vec<(GrantId, &'a GrantState, Nanodollars)>> {
    let mut left = amount;
    let mut taken = Vec::new();
    for (grant_id, grant) in spend_order(grants, cx.now) {
        if !left.is_positive() {
            break;
        }
        let portion = left.min(grant.remaining);
        left -= portion;
        taken.push((grant_id, grant, portion));
    }
    (!left.is_positive()).then_some(taken)
}

/// Refuses to give `project` `more` new balances beyond `BALANCES_PER_PROJECT_MAX` with credit.
fn ensure_room_for_balances(project: &ProjectState, more: usize) -> Result<(), DomainError> {
    let with_credit = project
        .grants
        .values()
        .filter(|grant| grant.remaining.is_positive())
        .count();
    if with_credit + more > limits::BALANCES_PER_PROJECT_MAX {
        return Err(DomainError::TooManyBalances);
    }
    Ok(())
}

/// The sweeper: records `CreditsExpired` for grants past their expiry with credit left, at
/// most `EXPIRIES_PER_SWEEP_MAX` per command (the sweeper repeats it until fewer come back).
pub(super) fn expire(cx: &Context) -> Result<Vec<Event>, DomainError> {
    require_operator(cx)?;
    let mut project_ids: Vec<&ProjectId> = cx.state.projects.keys().collect();
    project_ids.sort();
    let expired = project_ids.into_iter().flat_map(|project_id| {
        let grants = &cx.state.projects[project_id].grants;
        grants
            .iter()
            .filter(|(_, grant)| {
                !grant.expiry_recorded
                    && grant.remaining.is_positive()
                    && is_expired(grant.expires_at, cx.now)
            })
            .map(|(grant_id, grant)| Event::CreditsExpired {
                project_id: *project_id,
                grant_id: *grant_id,
                amount: grant.remaining,
            })
    });
    Ok(expired.take(limits::EXPIRIES_PER_SWEEP_MAX).collect())
}
