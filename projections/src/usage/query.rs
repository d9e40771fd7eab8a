//! What a usage, billing or request-log query selects: a period, filters on the dimensions and
//! tags, and whether a request with several tags counts once or under each. Selecting reads
//! only the per-day cells, except to filter by several tags at once, where only the requests
//! themselves know which carry any of them: then the selection says so, and the caller reads
//! the project's requests (`ProjectUsage::requests`) back from the log outside the read lock,
//! turning each into rows with `UsageQuery::rows_of`.

use super::{Cell, Day, Dimensions, ProjectUsage, RequestView};
use std::collections::BTreeMap;
use steward_events::{
    Deployment, Endpoint, FeatureSet, KeyId, RequestId, RequestMethod, Tag, Timestamp,
};

/// The period a query covers when it names none: the last 30 days.
pub const DEFAULT_PERIOD_DAYS: i64 = 30;

/// A half-open period `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Period {
    /// The period between optional bounds: up to `now` when no end is named, and the
    /// `DEFAULT_PERIOD_DAYS` before the end when no start is.
    pub fn between(start: Option<Timestamp>, end: Option<Timestamp>, now: Timestamp) -> Self {
        let end = end.unwrap_or(now);
        let start = start.unwrap_or_else(|| end.plus_seconds(-DEFAULT_PERIOD_DAYS * 86_400));
        Self { start, end }
    }

    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && at < self.end
    }

    /// The part of `day` inside the period.
    pub fn clip(&self, day: Day) -> Period {
        Period {
            start: day.start().max(self.start),
            end: day.next().start().min(self.end),
        }
    }
}

/// The filters a usage or billing query applies to the dimensions and tags of requests.
/// Each `None` (or an empty `tags`) selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageFilter {
    pub accessor: Option<KeyId>,
    /// Requests carrying any of these tags.
    pub tags: Vec<Tag>,
    pub method: Option<RequestMethod>,
    pub model: Option<String>,
    pub endpoint: Option<Endpoint>,
    pub deployment: Option<Deployment>,
    /// A billing line item, `endpoint::model`.
    pub line_item: Option<String>,
    /// Requests that used any of these features (every request when empty).
    pub features_used: FeatureSet,
    /// Requests that used none of these features.
    pub features_unused: FeatureSet,
}

impl UsageFilter {
    /// Whether requests with `dimensions` are selected (tags aside).
    pub fn matches(&self, dimensions: &Dimensions) -> bool {
        self.accessor
            .is_none_or(|key_id| key_id == dimensions.key_id)
            && self.method.is_none_or(|method| method == dimensions.method)
            && self
                .endpoint
                .is_none_or(|endpoint| endpoint == dimensions.endpoint)
            && self
                .deployment
                .is_none_or(|deployment| deployment == dimensions.deployment)
            && self
                .model
                .as_deref()
                .is_none_or(|model| model == dimensions.model)
            && self
                .line_item
                .as_deref()
                .is_none_or(|line_item| line_item == dimensions.line_item())
            && (self.features_used.is_empty() || dimensions.features.intersects(self.features_used))
            && !dimensions.features.intersects(self.features_unused)
    }
}

/// How a request carrying several tags is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagCounting {
    /// Once, whatever its tags (totals).
    Once,
    /// Once under each of its (selected) tags, and untagged requests under no tag (grouping
    /// by tag).
    PerTag,
}

impl TagCounting {
    /// `PerTag` when grouping by tag, else `Once`.
    pub fn per_tag_if(by_tag: bool) -> Self {
        if by_tag {
            Self::PerTag
        } else {
            Self::Once
        }
    }
}

/// One cell of a query's answer: a day, the tag it is counted under (when counting per tag),
/// its dimensions and its sums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub day: Day,
    pub tag: Option<Tag>,
    pub dimensions: Dimensions,
    pub cell: Cell,
}

/// What a usage query selects, taken under the read lock: the rows themselves, or, when only
/// the requests can tell, every request of the project, to be read back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    Rows(Vec<Row>),
    Requests,
}

/// A usage query over one project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageQuery {
    pub period: Period,
    pub filter: UsageFilter,
    pub counting: TagCounting,
}

impl UsageQuery {
    /// Whether `request` is selected (its period, dimensions and tags).
    fn wants(&self, request: &RequestView) -> bool {
        self.period.contains(request.recorded_at)
            && self.filter.matches(&request.dimensions())
            && request
                .tags
                .iter()
                .any(|tag| self.filter.tags.contains(tag))
    }

    /// The rows of one request read back from the log (none if it is not selected).
    pub fn rows_of(&self, request: &RequestView) -> Vec<Row> {
        if !self.wants(request) {
            return Vec::new();
        }
        let row = |tag| Row {
            day: Day::of(request.recorded_at),
            tag,
            dimensions: request.dimensions(),
            cell: request.cell(),
        };
        match self.counting {
            TagCounting::Once => vec![row(None)],
            TagCounting::PerTag => request
                .tags
                .iter()
                .filter(|tag| self.filter.tags.contains(tag))
                .map(|tag| row(Some(tag.clone())))
                .collect(),
        }
    }
}

impl ProjectUsage {
    /// What `query` selects: the matching cells of the period's days (each counted as the
    /// query says), or, filtering by more than one tag, every request.
    pub fn select(&self, query: &UsageQuery) -> Selection {
        if query.filter.tags.len() > 1 {
            return Selection::Requests;
        }
        let (filter, by_tag) = (&query.filter, query.counting == TagCounting::PerTag);
        let first_day = Day::of(query.period.start);
        let last_day = Day::of(Timestamp::from_unix_micros(
            query.period.end.unix_micros() - 1,
        ));
        let mut rows = Vec::new();
        for (&day, usage_day) in self.days_between(first_day, last_day.next()) {
            let mut push = |tag: Option<&Tag>, cells: &BTreeMap<Dimensions, Cell>| {
                rows.extend(
                    cells
                        .iter()
                        .filter(|(dimensions, _)| filter.matches(dimensions))
                        .map(|(dimensions, cell)| Row {
                            day,
                            tag: tag.cloned(),
                            dimensions: dimensions.clone(),
                            cell: *cell,
                        }),
                );
            };
            match filter.tags.first() {
                Some(tag) => {
                    if let Some(cells) = usage_day.tagged.get(tag) {
                        push(by_tag.then_some(tag), cells);
                    }
                }
                None if by_tag => {
                    for (tag, cells) in &usage_day.tagged {
                        push(Some(tag), cells);
                    }
                    push(None, &usage_day.untagged);
                }
                None => push(None, &usage_day.cells),
            }
        }
        Selection::Rows(rows)
    }
}

/// What the request log is filtered by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestFilter {
    /// Inclusive.
    pub start: Option<Timestamp>,
    /// Exclusive.
    pub end: Option<Timestamp>,
    pub request_id: Option<RequestId>,
    /// `Some(true)`: only succeeded requests (status below 400); `Some(false)`: only failed.
    pub succeeded: Option<bool>,
    /// Every one of these tags.
    pub tags: Vec<Tag>,
    pub dimensions: UsageFilter,
}

impl RequestFilter {
    pub fn wants(&self, request: &RequestView) -> bool {
        self.start.is_none_or(|start| request.recorded_at >= start)
            && self.end.is_none_or(|end| request.recorded_at < end)
            && self.request_id.is_none_or(|id| id == request.request_id)
            && self
                .succeeded
                .is_none_or(|succeeded| succeeded == (request.status_code < 400))
            && self.tags.iter().all(|tag| request.tags.contains(tag))
            && self.dimensions.matches(&request.dimensions())
    }
}
