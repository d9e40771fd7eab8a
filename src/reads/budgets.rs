//! Tag budgets and each tag's month-to-date spend, for whoever may read the project's billing.

use super::ReadError;
use crate::{access::Principal, Steward};
use std::{collections::BTreeSet, ops::Bound};
use steward_events::{Nanodollars, Permission, ProjectId, Tag, Timestamp};
use steward_projections::budgets::{Budget, ProjectBudgets};

/// One tag this month: what its requests cost so far, and its budget if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagMonth {
    pub tag: Tag,
    pub spent: Nanodollars,
    pub budget: Option<Budget>,
}

/// A page of the tags used this month or holding a budget, in tag order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagsPage {
    /// The start of the UTC month the spend is for.
    pub month_start: Timestamp,
    pub tags: Vec<TagMonth>,
    /// The last tag listed, when more may follow it.
    pub next_after: Option<Tag>,
}

fn tag_month(budgets: Option<&ProjectBudgets>, tag: &Tag, now: Timestamp) -> TagMonth {
    TagMonth {
        tag: tag.clone(),
        spent: budgets.map_or(Nanodollars::ZERO, |budgets| budgets.spend.spent(tag, now)),
        budget: budgets.and_then(|budgets| budgets.budgets.get(tag).copied()),
    }
}

impl Steward {
    /// One tag's budget and month-to-date spend; a tag without a budget is not found.
    pub fn tag_budget(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        tag: &Tag,
    ) -> Result<TagMonth, ReadError> {
        let now = self.now();
        self.read(|projections| {
            viewer
                .access(projections, project_id)?
                .require(Permission::BillingRead)?;
            let budgets = projections.tag_budgets.project(project_id);
            let line = tag_month(budgets, tag, now);
            line.budget.ok_or(ReadError::NotFound("budget"))?;
            Ok(line)
        })
    }

    /// Up to `limit` tags after `after` (in tag order) of those used this month or holding a
    /// budget, with their spend and budget.
    pub fn tags_this_month(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        after: Option<&Tag>,
        limit: usize,
    ) -> Result<TagsPage, ReadError> {
        let now = self.now();
        self.read(|projections| {
            viewer
                .access(projections, project_id)?
                .require(Permission::BillingRead)?;
            let budgets = projections.tag_budgets.project(project_id);
            let from = after.map_or(Bound::Unbounded, Bound::Excluded);
            // The first `limit + 1` of each source in order hold the first `limit + 1` of both.
            let mut names: BTreeSet<&Tag> = BTreeSet::new();
            if let Some(budgets) = budgets {
                names.extend(
                    budgets
                        .budgets
                        .range::<Tag, _>((from, Bound::Unbounded))
                        .map(|(tag, _)| tag)
                        .take(limit + 1),
                );
                names.extend(
                    budgets
                        .spend
                        .of_month_from(now, from)
                        .map(|(tag, _)| tag)
                        .take(limit + 1),
                );
            }
            let mut tags: Vec<TagMonth> = names
                .into_iter()
                .take(limit + 1)
                .map(|tag| tag_month(budgets, tag, now))
                .collect();
            let more = tags.len() > limit;
            tags.truncate(limit);
            Ok(TagsPage {
                month_start: now.month_start(),
                next_after: more
                    .then(|| tags.last().map(|line| line.tag.clone()))
                    .flatten(),
                tags,
            })
        })
    }
}
