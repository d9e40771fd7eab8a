//! Tag budgets: what each tag's requests have cost its project in the current UTC month, and
//! the monthly budget set for a tag, if any. The gateway's check reads it on every request, so
//! a tag's month-to-date spend is one map lookup.
//!
//! `TagSpend` is also the write model's: `decide` holds a request to a hard budget with the
//! very figures this projection shows.

use crate::Projection;
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, ops::Bound};
use steward_events::{Envelope, Event, Nanodollars, ProjectId, Tag, Timestamp};

/// What each tag's requests have cost in one UTC month: the month of the latest request
/// recorded. A request of a later month starts the figures again from zero, so memory holds
/// only the tags used in that month.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSpend {
    /// The start of the month the figures are for.
    month_start: Option<Timestamp>,
    spent: BTreeMap<Tag, Nanodollars>,
}

impl TagSpend {
    /// Adds a request's `cost`, recorded at `at`, to each of its `tags`.
    pub fn add(&mut self, at: Timestamp, tags: &[Tag], cost: Nanodollars) {
        let month_start = at.month_start();
        if self.month_start != Some(month_start) {
            self.month_start = Some(month_start);
            self.spent.clear();
        }
        for tag in tags {
            let spent = self.spent.entry(tag.clone()).or_insert(Nanodollars::ZERO);
            // Saturates: only an operator granting more than i64 nano-dollars in a month could
            // reach it, and a replay must never panic.
            *spent = spent
                .checked_add(cost)
                .unwrap_or(Nanodollars::new(i64::MAX));
        }
    }

    /// What `tag`'s requests have cost in the month of `at`.
    pub fn spent(&self, tag: &Tag, at: Timestamp) -> Nanodollars {
        if self.month_start != Some(at.month_start()) {
            return Nanodollars::ZERO;
        }
        self.spent.get(tag).copied().unwrap_or(Nanodollars::ZERO)
    }

    /// Whether a request at `at` carrying `tags` keeps the month's distinct tags within `max`:
    /// the tags used in that month so far, and those of `tags` new to it. A request whose tags
    /// were all used this month always does.
    pub fn admits<'a>(
        &self,
        tags: impl IntoIterator<Item = &'a Tag>,
        at: Timestamp,
        max: usize,
    ) -> bool {
        let current = self.month_start == Some(at.month_start());
        let used = if current { self.spent.len() } else { 0 };
        let new = tags
            .into_iter()
            .filter(|tag| !(current && self.spent.contains_key(*tag)))
            .count();
        new == 0 || used + new <= max
    }

    /// Every tag used in the month of `at`, with what its requests cost, in tag order.
    pub fn of_month(&self, at: Timestamp) -> impl Iterator<Item = (&Tag, Nanodollars)> {
        self.of_month_from(at, Bound::Unbounded)
    }

    /// The same, from `from` on.
    pub fn of_month_from<'a>(
        &'a self,
        at: Timestamp,
        from: Bound<&'a Tag>,
    ) -> impl Iterator<Item = (&'a Tag, Nanodollars)> + 'a {
        let current = self.month_start == Some(at.month_start());
        current
            .then_some(&self.spent)
            .into_iter()
            .flat_map(move |spent| spent.range::<Tag, _>((from, Bound::Unbounded)))
            .map(|(tag, spent)| (tag, *spent))
    }
}

/// A tag's monthly budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub monthly: Nanodollars,
    /// A hard budget refuses the request that would pass it; a soft one records it.
    pub hard: bool,
    pub set_at: Timestamp,
    /// The start of the last month in which a soft budget was passed.
    pub passed_in: Option<Timestamp>,
}

impl Budget {
    /// Whether this is a hard budget that a month-to-date spend of `spent` has reached: any
    /// priced request carrying its tag would pass it.
    pub fn is_reached_by(&self, spent: Nanodollars) -> bool {
        self.hard && spent >= self.monthly
    }

    /// Whether it was passed in the month starting at `month_start` (a soft budget).
    pub fn was_passed_in(&self, month_start: Timestamp) -> bool {
        self.passed_in == Some(month_start)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProjectBudgets {
    pub budgets: BTreeMap<Tag, Budget>,
    pub spend: TagSpend,
}

impl ProjectBudgets {
    /// Whether `apply` changes anything for `event`: a tagged request, or a budget's
    /// change.
    pub fn concerns(event: &Event) -> bool {
        match event {
            Event::UsageRecorded { tags, .. } => !tags.is_empty(),
            Event::TagBudgetSet { .. }
            | Event::TagBudgetRemoved { .. }
            | Event::TagBudgetPassed { .. } => true,
            _ => false,
        }
    }

    /// Applies one of the project's events, recorded at `at`: the one transition the write
    /// model and this projection share.
    pub fn apply(&mut self, event: &Event, at: Timestamp) {
        match event {
            Event::UsageRecorded { tags, cost, .. } if !tags.is_empty() => {
                self.spend.add(at, tags, *cost);
            }
            Event::TagBudgetSet {
                tag, monthly, hard, ..
            } => {
                self.budgets.insert(
                    tag.clone(),
                    Budget {
                        monthly: *monthly,
                        hard: *hard,
                        set_at: at,
                        passed_in: None,
                    },
                );
            }
            Event::TagBudgetRemoved { tag, .. } => {
                self.budgets.remove(tag);
            }
            Event::TagBudgetPassed {
                tag, month_start, ..
            } => {
                if let Some(budget) = self.budgets.get_mut(tag) {
                    budget.passed_in = Some(*month_start);
                }
            }
            _ => {}
        }
    }

    /// Whether one of `tags` has a hard budget its month-to-date spend has reached at `at`:
    /// the first such tag. Any priced request carrying it would pass the budget.
    pub fn hard_budget_reached<'a>(
        &self,
        tags: impl IntoIterator<Item = &'a Tag>,
        at: Timestamp,
    ) -> Option<&'a Tag> {
        tags.into_iter().find(|tag| {
            self.budgets
                .get(*tag)
                .is_some_and(|budget| budget.is_reached_by(self.spend.spent(tag, at)))
        })
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TagBudgets {
    pub projects: BTreeMap<ProjectId, ProjectBudgets>,
}

impl TagBudgets {
    pub fn project(&self, project_id: ProjectId) -> Option<&ProjectBudgets> {
        self.projects.get(&project_id)
    }
}

impl Projection for TagBudgets {
    const NAME: &'static str = "tag_budgets";

    fn apply(&mut self, envelope: &Envelope) {
        let event = &envelope.event;
        match event {
            Event::ProjectDeleted { project_id } => {
                self.projects.remove(project_id);
            }
            _ if ProjectBudgets::concerns(event) => {
                let project_id = event.project_id().expect("budget events name a project");
                self.projects
                    .entry(project_id)
                    .or_default()
                    .apply(event, envelope.recorded_at);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn tag(name: &str) -> Tag {
        Tag::parse(name).unwrap()
    }

    #[test]
    fn spend_counts_per_tag_and_starts_again_each_month() {
        let mut spend = TagSpend::default();
        let cost = Nanodollars::from_usd(3);
        spend.add(at("2026-11-30T23:59:59Z"), &[tag("a"), tag("b")], cost);
        spend.add(at("2026-11-30T23:59:59Z"), &[tag("a")], cost);
        let november = at("2026-11-15T00:00:00Z");
        assert_eq!(spend.spent(&tag("a"), november), Nanodollars::from_usd(6));
        assert_eq!(spend.spent(&tag("b"), november), Nanodollars::from_usd(3));
        assert_eq!(spend.spent(&tag("c"), november), Nanodollars::ZERO);
        let december = at("2026-12-01T00:00:00Z");
        assert_eq!(spend.spent(&tag("a"), december), Nanodollars::ZERO);
        assert_eq!(spend.of_month(december).count(), 0);

        spend.add(december, &[tag("b")], cost);
        assert_eq!(spend.spent(&tag("b"), december), Nanodollars::from_usd(3));
        assert_eq!(spend.spent(&tag("a"), december), Nanodollars::ZERO);
        let listed: Vec<_> = spend.of_month(december).collect();
        assert_eq!(listed, [(&tag("b"), Nanodollars::from_usd(3))]);
    }

    #[test]
    fn a_month_admits_new_tags_up_to_its_limit_and_its_own_tags_always() {
        let mut spend = TagSpend::default();
        let november = at("2026-11-10T00:00:00Z");
        spend.add(november, &[tag("a"), tag("b")], Nanodollars::ZERO);
        // Two used, a limit of three: one new tag fits, two do not.
        assert!(spend.admits(&[tag("a"), tag("c")], november, 3));
        assert!(!spend.admits(&[tag("c"), tag("d")], november, 3));
        spend.add(november, &[tag("c")], Nanodollars::ZERO);
        assert!(!spend.admits(&[tag("d")], november, 3));
        // At the limit, the month's own tags still pass, and so does a request with none.
        assert!(spend.admits(&[tag("a"), tag("b"), tag("c")], november, 3));
        assert!(spend.admits(&[], november, 3));
        // A new month starts from none.
        let december = at("2026-12-01T00:00:00Z");
        assert!(spend.admits(&[tag("d"), tag("e"), tag("f")], december, 3));
        assert!(!spend.admits(&[tag("a"), tag("b"), tag("c"), tag("d")], december, 3));
    }
}
