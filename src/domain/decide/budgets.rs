//! Tag budgets: what the requests carrying a tag may cost the project each UTC month, set and
//! removed by whoever may change the project's billing. `usage` holds requests to them.

use super::{access, Context};
use crate::{
    domain::{command::TagBudget, error::DomainError},
    limits,
};
use steward_events::{Event, Nanodollars, Permission, ProjectId, Tag};

pub(super) fn set(
    cx: &Context,
    project_id: ProjectId,
    tag: &Tag,
    budget: Option<TagBudget>,
) -> Result<Vec<Event>, DomainError> {
    let (access, project) = access(cx, project_id)?;
    access.require(Permission::BillingWrite)?;
    let current = project.budgets.budgets.get(tag);
    let Some(TagBudget { monthly, hard }) = budget else {
        current.ok_or(DomainError::BudgetNotFound)?;
        return Ok(vec![Event::TagBudgetRemoved {
            project_id,
            tag: tag.clone(),
        }]);
    };
    if monthly < Nanodollars::ZERO || monthly > limits::AMOUNT_MAX {
        return Err(DomainError::InvalidBudget);
    }
    match current {
        Some(current) if current.monthly == monthly && current.hard == hard => return Ok(vec![]),
        Some(_) => {}
        None if project.budgets.budgets.len() >= limits::BUDGETS_PER_PROJECT_MAX => {
            return Err(DomainError::TooManyBudgets)
        }
        None => {}
    }
    Ok(vec![Event::TagBudgetSet {
        project_id,
        tag: tag.clone(),
        monthly,
        hard,
    }])
}
