//! Usage: recording one metered request, once per request id and project, for a model the
//! project may use, paid from the soonest-expiring credit; a failed request costs nothing. And
//! the operator's changes to which models a project may use.

use super::{access, dedup, project, require_operator, Context};
use crate::{
    domain::{
        command::UsageReport,
        credit::spend_order,
        error::DomainError,
        state::{may_use_model, ProjectState},
    },
    limits,
};
use steward_events::{
    Actor, ConsumedPortion, Event, ModelId, Nanodollars, Permission, ProjectId, Tag,
};

pub(super) fn record(
    cx: &Context,
    project_id: ProjectId,
    report: &UsageReport,
) -> Result<Vec<Event>, DomainError> {
    let Actor::Key { key_id, .. } = *cx.actor else {
        return Err(DomainError::InsufficientPermissions);
    };
    let (access, project) = access(cx, project_id)?;
    access.require(Permission::UsageWrite)?;
    if cx.known.request_recorded {
        return Err(DomainError::DuplicateRequest);
    }
    check_report(report)?;
    let model = &report.model;
    if !may_use_model(project.model_access.get(&model.id).copied(), model.public) {
        return Err(DomainError::ModelNotAllowed);
    }
    let cost = if report.status_code >= 400 {
        Nanodollars::ZERO
    } else {
        report.cost
    };
    let key = &project.keys[&key_id];
    let tags: Vec<Tag> = dedup(&[key.tags.as_slice(), report.tags.as_slice()].concat());
    if !(project.budgets.spend).admits(&tags, cx.now, limits::TAGS_PER_PROJECT_MONTH_MAX) {
        return Err(DomainError::TooManyTagsThisMonth);
    }
    let passed = hold_to_budgets(cx, project, project_id, &tags, cost)?;
    let mut events = vec![Event::UsageRecorded {
        project_id,
        request_id: report.request_id,
        key_id,
        tags,
        endpoint: report.endpoint,
        method: report.method,
        model: report.model.name.to_string(),
        deployment: report.deployment,
        units: report.units,
        cost,
        status_code: report.status_code,
        features: report.features.iter().collect(),
    }];
    if cost.is_positive() {
        events.push(pay(cx, project, project_id, report, cost)?);
    }
    events.extend(passed);
    Ok(events)
}

/// Holds a request costing `cost` to the budgets of its `tags`: refused if it would take a tag
/// past a hard budget this month; otherwise a `TagBudgetPassed` for each soft budget it takes
/// past for the first time this month.
fn hold_to_budgets(
    cx: &Context,
    project: &ProjectState,
    project_id: ProjectId,
    tags: &[Tag],
    cost: Nanodollars,
) -> Result<Vec<Event>, DomainError> {
    let mut passed = Vec::new();
    if !cost.is_positive() {
        return Ok(passed);
    }
    let month_start = cx.now.month_start();
    for tag in tags {
        let Some(budget) = project.budgets.budgets.get(tag) else {
            continue;
        };
        let spent = project
            .budgets
            .spend
            .spent(tag, cx.now)
            .checked_add(cost)
            .ok_or(DomainError::InvalidAmount)?;
        if spent <= budget.monthly {
            continue;
        }
        if budget.hard {
            return Err(DomainError::TagBudgetExceeded(tag.clone()));
        }
        if !budget.was_passed_in(month_start) {
            passed.push(Event::TagBudgetPassed {
                project_id,
                tag: tag.clone(),
                month_start,
                monthly: budget.monthly,
                spent,
            });
        }
    }
    Ok(passed)
}

fn check_report(report: &UsageReport) -> Result<(), DomainError> {
    if report.tags.len() > limits::TAGS_PER_REQUEST_MAX {
        return Err(DomainError::TooManyTags);
    }
    if report.cost < Nanodollars::ZERO || report.cost > limits::REQUEST_COST_MAX {
        return Err(DomainError::InvalidAmount);
    }
    Ok(())
}

/// The credit consumed to pay `cost`, soonest-expiring first; refused if the project cannot pay.
fn pay(
    cx: &Context,
    project: &ProjectState,
    project_id: ProjectId,
    report: &UsageReport,
    cost: Nanodollars,
) -> Result<Event, DomainError> {
    let mut left = cost;
    let mut portions = Vec::new();
    for (grant_id, grant) in spend_order(&project.grants, cx.now) {
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
    // Balances with credit are bounded per project; older data may hold more.
    if portions.len() > limits::PORTIONS_PER_EVENT_MAX {
        return Err(DomainError::TooManyPortions);
    }
    Ok(Event::CreditsConsumed {
        project_id,
        request_id: report.request_id,
        portions,
    })
}

/// The operator's change to a project's model access; nothing when it is already so.
pub(super) fn set_model_access(
    cx: &Context,
    project_id: ProjectId,
    model_id: ModelId,
    public: bool,
    allowed: bool,
) -> Result<Vec<Event>, DomainError> {
    require_operator(cx)?;
    let project = project(cx.state, project_id)?;
    let current = may_use_model(project.model_access.get(&model_id).copied(), public);
    Ok(match (current, allowed) {
        (false, true) => vec![Event::ModelAccessGranted {
            project_id,
            model_id,
        }],
        (true, false) => vec![Event::ModelAccessRevoked {
            project_id,
            model_id,
        }],
        _ => Vec::new(),
    })
}
