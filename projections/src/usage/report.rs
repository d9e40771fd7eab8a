//! What usage and billing queries answer, computed from the rows a query selected: totals in
//! Deepgram's units, breakdowns per day and grouping, billing lines and their CSV, and the
//! fields (tags, models, accessors, …) seen in a period. Plain values; each face puts them in
//! its own shape.

use super::{
    query::{Period, Row},
    Cell, Day, Dimensions,
};
use std::collections::{BTreeMap, BTreeSet};
use steward_events::{Endpoint, FeatureSet, Nanodollars};

/// Sums in Deepgram's usage units. Hours are computed from whole milliseconds, so they do not
/// drift with the number of cells summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageFigures {
    pub listen_milliseconds: u64,
    pub agent_milliseconds: u64,
    /// Audio on every endpoint.
    pub total_milliseconds: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub characters: u64,
    pub requests: u64,
}

fn hours(milliseconds: u64) -> f64 {
    milliseconds as f64 / 3_600_000.0
}

impl UsageFigures {
    /// The sums of `rows`.
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Self {
        let mut figures = Self::default();
        for row in rows {
            figures.add(&row.dimensions, &row.cell);
        }
        figures
    }

    pub fn add(&mut self, dimensions: &Dimensions, cell: &Cell) {
        match dimensions.endpoint {
            Endpoint::Listen => self.listen_milliseconds += cell.audio_milliseconds,
            Endpoint::Agent => self.agent_milliseconds += cell.audio_milliseconds,
            Endpoint::Read | Endpoint::Speak => {}
        }
        self.total_milliseconds += cell.audio_milliseconds;
        self.tokens_in += cell.tokens_in;
        self.tokens_out += cell.tokens_out;
        self.characters += cell.characters;
        self.requests += cell.requests;
    }

    /// Hours of audio on listen.
    pub fn hours(&self) -> f64 {
        hours(self.listen_milliseconds)
    }

    pub fn agent_hours(&self) -> f64 {
        hours(self.agent_milliseconds)
    }

    pub fn total_hours(&self) -> f64 {
        hours(self.total_milliseconds)
    }
}

/// A dimension a usage breakdown groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum UsageGrouping {
    Accessor,
    Endpoint,
    FeatureSet,
    Models,
    Method,
    Tags,
    Deployment,
}

impl UsageGrouping {
    pub const ALL: [UsageGrouping; 7] = [
        Self::Accessor,
        Self::Endpoint,
        Self::FeatureSet,
        Self::Models,
        Self::Method,
        Self::Tags,
        Self::Deployment,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Accessor => "accessor",
            Self::Endpoint => "endpoint",
            Self::FeatureSet => "feature_set",
            Self::Models => "models",
            Self::Method => "method",
            Self::Tags => "tags",
            Self::Deployment => "deployment",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|grouping| grouping.name() == text)
    }

    /// The row's value of this dimension.
    pub fn value(self, row: &Row) -> Option<String> {
        let dimensions = &row.dimensions;
        match self {
            Self::Accessor => Some(dimensions.key_id.to_string()),
            Self::Endpoint => Some(dimensions.endpoint.name().to_owned()),
            Self::Models => Some(dimensions.model.clone()),
            Self::Method => Some(dimensions.method.name().to_owned()),
            Self::Tags => row.tag.as_ref().map(|tag| tag.as_str().to_owned()),
            Self::Deployment => Some(dimensions.deployment.name().to_owned()),
            // The features' names joined by commas; `default` for a request that used none.
            Self::FeatureSet if dimensions.features.is_empty() => Some("default".to_owned()),
            Self::FeatureSet => Some(dimensions.features.names()),
        }
    }
}

/// One line of a usage breakdown: a day (clipped to the period), the grouping's value, sums.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageGroup {
    pub period: Period,
    pub value: Option<String>,
    pub figures: UsageFigures,
}

/// Usage per day and per value of `grouping` (per day only without one), in day then value
/// order.
pub fn usage_breakdown(
    rows: &[Row],
    grouping: Option<UsageGrouping>,
    period: Period,
) -> Vec<UsageGroup> {
    let mut groups: BTreeMap<(Day, Option<String>), UsageFigures> = BTreeMap::new();
    for row in rows {
        let value = grouping.and_then(|grouping| grouping.value(row));
        groups
            .entry((row.day, value))
            .or_default()
            .add(&row.dimensions, &row.cell);
    }
    groups
        .into_iter()
        .map(|((day, value), figures)| UsageGroup {
            period: period.clip(day),
            value,
            figures,
        })
        .collect()
}

/// The tags, models, processing methods and features of the selected rows (counted per tag).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageFields {
    pub tags: BTreeSet<String>,
    pub models: BTreeSet<String>,
    pub methods: BTreeSet<&'static str>,
    /// In stored order.
    pub features: FeatureSet,
}

impl UsageFields {
    pub fn of(rows: &[Row]) -> Self {
        let mut fields = Self::default();
        for row in rows {
            if let Some(tag) = &row.tag {
                fields.tags.insert(tag.as_str().to_owned());
            }
            fields.models.insert(row.dimensions.model.clone());
            fields.methods.insert(row.dimensions.method.name());
            fields.features = fields.features.union(row.dimensions.features);
        }
        fields
    }
}

/// A dimension a billing breakdown groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BillingGrouping {
    Accessor,
    Deployment,
    LineItem,
    Tags,
}

impl BillingGrouping {
    pub const ALL: [BillingGrouping; 4] =
        [Self::Accessor, Self::Deployment, Self::LineItem, Self::Tags];

    pub fn name(self) -> &'static str {
        match self {
            Self::Accessor => "accessor",
            Self::Deployment => "deployment",
            Self::LineItem => "line_item",
            Self::Tags => "tags",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|grouping| grouping.name() == text)
    }

    /// The row's value of this dimension.
    pub fn value(self, row: &Row) -> Option<String> {
        match self {
            Self::Accessor => Some(row.dimensions.key_id.to_string()),
            Self::Deployment => Some(row.dimensions.deployment.name().to_owned()),
            Self::LineItem => Some(row.dimensions.line_item()),
            Self::Tags => row.tag.as_ref().map(|tag| tag.as_str().to_owned()),
        }
    }
}

/// One line of a billing breakdown: the value of each grouping asked for, in the order asked,
/// and what the line's requests cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillingLine {
    pub values: Vec<Option<String>>,
    pub cost: Nanodollars,
}

impl BillingLine {
    /// The value of `grouping` on this line, if it was asked for (the last one asked wins).
    pub fn value(&self, groupings: &[BillingGrouping], grouping: BillingGrouping) -> Option<&str> {
        groupings
            .iter()
            .zip(&self.values)
            .rev()
            .find(|(asked, _)| **asked == grouping)
            .and_then(|(_, value)| value.as_deref())
    }
}

/// What the rows cost, grouped by `groupings`, in the order of their values.
pub fn billing_lines(rows: &[Row], groupings: &[BillingGrouping]) -> Vec<BillingLine> {
    let mut lines: BTreeMap<Vec<Option<String>>, Nanodollars> = BTreeMap::new();
    for row in rows {
        let values = groupings
            .iter()
            .map(|grouping| grouping.value(row))
            .collect();
        *lines.entry(values).or_default() += row.cell.cost;
    }
    lines
        .into_iter()
        .map(|(values, cost)| BillingLine { values, cost })
        .collect()
}

/// What the rows cost in all.
pub fn total_cost(rows: &[Row]) -> Nanodollars {
    rows.iter().map(|row| row.cell.cost).sum()
}

/// The CSV header of a billing breakdown. Its tags column says how tags are counted; the first
/// column tells the group lines from the total line.
pub const BILLING_CSV_HEADER: [&str; 8] = [
    "row",
    "start",
    "end",
    "accessor",
    "deployment",
    "line_item",
    "tags (a request with several tags is counted under each; the total line counts it once)",
    "dollars",
];

/// The records of a billing breakdown's CSV after its header: one per line, then the total
/// (`total` counts each request once, whatever its tags).
pub fn billing_csv_records(
    period: Period,
    groupings: &[BillingGrouping],
    lines: &[BillingLine],
    total: Nanodollars,
) -> Vec<[String; 8]> {
    let (start, end) = (period.start.to_rfc3339(), period.end.to_rfc3339());
    let value = |line: &BillingLine, grouping| {
        line.value(groupings, grouping)
            .unwrap_or_default()
            .to_owned()
    };
    let mut records: Vec<[String; 8]> = lines
        .iter()
        .map(|line| {
            [
                "line".to_owned(),
                start.clone(),
                end.clone(),
                value(line, BillingGrouping::Accessor),
                value(line, BillingGrouping::Deployment),
                value(line, BillingGrouping::LineItem),
                value(line, BillingGrouping::Tags),
                line.cost.to_usd_string(),
            ]
        })
        .collect();
    records.push([
        "total".to_owned(),
        start,
        end,
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        total.to_usd_string(),
    ]);
    records
}

/// The accessors, deployments, tags and line items (code → label) of the selected rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BillingFields {
    pub accessors: BTreeSet<String>,
    pub deployments: BTreeSet<&'static str>,
    pub tags: BTreeSet<String>,
    pub line_items: BTreeMap<String, String>,
}

impl BillingFields {
    pub fn of(rows: &[Row]) -> Self {
        let mut fields = Self::default();
        for row in rows {
            let dimensions = &row.dimensions;
            fields.accessors.insert(dimensions.key_id.to_string());
            fields.deployments.insert(dimensions.deployment.name());
            if let Some(tag) = &row.tag {
                fields.tags.insert(tag.as_str().to_owned());
            }
            fields.line_items.insert(
                dimensions.line_item(),
                format!("{} ({})", dimensions.endpoint.name(), dimensions.model),
            );
        }
        fields
    }
}
