//! Usage: per project and UTC day, cells by key, endpoint, method, model and deployment, each
//! also per tag and for the untagged requests; and the request log, as positions in the
//! event log.
//!
//! Queries over a period read one cell per day and group, never the requests themselves
//! (`query`), and `report` sums what they select into Deepgram's figures and groupings.

pub mod query;
pub mod report;

use crate::Projection;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use steward_events::{
    Deployment, Endpoint, Envelope, Event, FeatureSet, KeyId, Nanodollars, ProjectId, RequestId,
    RequestMethod, Tag, Timestamp, UsageUnits,
};

/// A UTC calendar day, as days since the Unix epoch; shown as `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i64);

impl Day {
    pub fn of(at: Timestamp) -> Self {
        Self(at.day())
    }

    pub fn start(self) -> Timestamp {
        Timestamp::from_unix_micros(self.0 * 86_400 * 1_000_000)
    }

    /// The day after.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.start().to_datetime().format("%Y-%m-%d"))
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let date = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map_err(|_| de::Error::custom(format!("not a day: {text}")))?;
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch");
        Ok(Day(date.signed_duration_since(epoch).num_days()))
    }
}

/// Sums over a set of requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub requests: u64,
    pub audio_milliseconds: u64,
    pub characters: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost: Nanodollars,
}

impl Cell {
    fn add(&mut self, units: &UsageUnits, cost: Nanodollars) {
        self.requests += 1;
        self.audio_milliseconds += units.audio_milliseconds;
        self.characters += units.characters;
        self.tokens_in += units.tokens_in;
        self.tokens_out += units.tokens_out;
        self.cost += cost;
    }

    pub fn merge(&mut self, other: &Cell) {
        self.requests += other.requests;
        self.audio_milliseconds += other.audio_milliseconds;
        self.characters += other.characters;
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
        self.cost += other.cost;
    }
}

/// The dimensions a day's usage is kept by: every way Deepgram's usage and billing queries
/// filter or group, except tags, which a request may carry several of.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dimensions {
    pub key_id: KeyId,
    pub endpoint: Endpoint,
    pub method: RequestMethod,
    pub model: String,
    pub deployment: Deployment,
    /// The features the requests used.
    pub features: FeatureSet,
}

impl Dimensions {
    /// The billing line item: the endpoint and the model, such as `listen::nova-3`.
    pub fn line_item(&self) -> String {
        format!("{}::{}", self.endpoint.name(), self.model)
    }
}

impl Serialize for Dimensions {
    /// As a map key: `key_id/endpoint/method/model/deployment`, then `/features,…` when the
    /// requests used any.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let features = if self.features.is_empty() {
            String::new()
        } else {
            format!("/{}", self.features.names())
        };
        serializer.collect_str(&format_args!(
            "{}/{}/{}/{}/{}{features}",
            self.key_id,
            self.endpoint.name(),
            self.method.name(),
            self.model,
            self.deployment.name()
        ))
    }
}

impl<'de> Deserialize<'de> for Dimensions {
    /// From `key_id/endpoint/method/model/deployment[/features]`; the model may itself hold
    /// slashes, and no feature is named like a deployment.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bad = || de::Error::custom(format!("not usage dimensions: {text}"));
        let mut parts: Vec<&str> = text.split('/').collect();
        let last = *parts.last().ok_or_else(bad)?;
        let features = match Deployment::parse(last) {
            Some(_) => FeatureSet::EMPTY,
            None => {
                parts.pop();
                FeatureSet::parse_names(last).ok_or_else(bad)?
            }
        };
        if parts.len() < 5 {
            return Err(bad());
        }
        Ok(Dimensions {
            key_id: parts[0].parse().map_err(|_| bad())?,
            endpoint: Endpoint::parse(parts[1]).ok_or_else(bad)?,
            method: RequestMethod::parse(parts[2]).ok_or_else(bad)?,
            model: parts[3..parts.len() - 1].join("/"),
            deployment: Deployment::parse(parts[parts.len() - 1]).ok_or_else(bad)?,
            features,
        })
    }
}

/// One UTC day of a project's usage, pre-aggregated: queries read cells, never requests.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DayUsage {
    /// Every request once, by its dimensions.
    pub cells: BTreeMap<Dimensions, Cell>,
    /// Every request once per tag it carries; a request with two tags counts under each.
    pub tagged: BTreeMap<Tag, BTreeMap<Dimensions, Cell>>,
    /// The requests that carry no tag.
    pub untagged: BTreeMap<Dimensions, Cell>,
}

impl DayUsage {
    /// The sum of every request of the day.
    pub fn total(&self) -> Cell {
        sum(self.cells.values())
    }

    /// The sum of the requests carrying `tag`.
    pub fn tag_total(&self, tag: &Tag) -> Cell {
        self.tagged
            .get(tag)
            .map(|cells| sum(cells.values()))
            .unwrap_or_default()
    }

    pub fn untagged_total(&self) -> Cell {
        sum(self.untagged.values())
    }
}

/// Per-tag sums over a period: what a business bills each of its own customers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagBreakdown {
    pub tags: BTreeMap<Tag, Cell>,
    pub untagged: Cell,
    pub total: Cell,
}

/// The sum of some cells.
pub fn sum<'a>(cells: impl IntoIterator<Item = &'a Cell>) -> Cell {
    cells.into_iter().fold(Cell::default(), |mut total, cell| {
        total.merge(cell);
        total
    })
}

/// One recorded request, as the request log shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestView {
    pub request_id: RequestId,
    pub key_id: KeyId,
    pub recorded_at: Timestamp,
    pub tags: Vec<Tag>,
    pub endpoint: Endpoint,
    pub method: RequestMethod,
    pub model: String,
    pub deployment: Deployment,
    pub units: UsageUnits,
    pub cost: Nanodollars,
    pub status_code: u16,
    pub features: FeatureSet,
}

impl RequestView {
    /// The dimensions the request is counted by.
    pub fn dimensions(&self) -> Dimensions {
        Dimensions {
            key_id: self.key_id,
            endpoint: self.endpoint,
            method: self.method,
            model: self.model.clone(),
            deployment: self.deployment,
            features: self.features,
        }
    }

    /// The request alone as a cell.
    pub fn cell(&self) -> Cell {
        let mut cell = Cell::default();
        cell.add(&self.units, self.cost);
        cell
    }

    /// The view of a `UsageRecorded` envelope.
    pub fn of(envelope: &Envelope) -> Option<Self> {
        let Event::UsageRecorded {
            request_id,
            key_id,
            tags,
            endpoint,
            method,
            model,
            deployment,
            units,
            cost,
            status_code,
            features,
            ..
        } = &envelope.event
        else {
            return None;
        };
        Some(Self {
            request_id: *request_id,
            key_id: *key_id,
            recorded_at: envelope.recorded_at,
            tags: tags.clone(),
            endpoint: *endpoint,
            method: *method,
            model: model.clone(),
            deployment: *deployment,
            units: *units,
            cost: *cost,
            status_code: *status_code,
            features: features.iter().collect(),
        })
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProjectUsage {
    pub days: BTreeMap<Day, DayUsage>,
    /// The log position of every recorded request, oldest first: the request log is the event
    /// log itself, read back on demand, so memory holds eight bytes per request. (A request
    /// by its id is found through the log's request index, `SledLog::request_position`.)
    pub requests: Vec<u64>,
}

impl ProjectUsage {
    /// What each tag cost over the days in `[from, to)`, what the untagged requests cost, and
    /// the total. A request with several tags counts under each of them and once in the total,
    /// so the lines add up to the total only when no request carries two tags.
    pub fn by_tag(&self, from: Day, to: Day) -> TagBreakdown {
        let mut breakdown = TagBreakdown::default();
        for (_, day) in self.days_between(from, to) {
            for (tag, cells) in &day.tagged {
                breakdown
                    .tags
                    .entry(tag.clone())
                    .or_default()
                    .merge(&sum(cells.values()));
            }
            breakdown.untagged.merge(&day.untagged_total());
            breakdown.total.merge(&day.total());
        }
        breakdown
    }

    /// What each of `keys` made over the days in `[from, to)`: one pass over those days' cells.
    pub fn by_key(
        &self,
        from: Day,
        to: Day,
        keys: &std::collections::BTreeSet<KeyId>,
    ) -> BTreeMap<KeyId, Cell> {
        let mut sums: BTreeMap<KeyId, Cell> = BTreeMap::new();
        for (_, day) in self.days_between(from, to) {
            for (dimensions, cell) in &day.cells {
                if keys.contains(&dimensions.key_id) {
                    sums.entry(dimensions.key_id).or_default().merge(cell);
                }
            }
        }
        sums
    }

    /// The days in `[from, to)`, in order.
    pub fn days_between(&self, from: Day, to: Day) -> impl Iterator<Item = (&Day, &DayUsage)> {
        self.days.range(from..to.max(from))
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Usage {
    pub projects: BTreeMap<ProjectId, ProjectUsage>,
}

impl Usage {
    pub fn project(&self, project_id: ProjectId) -> Option<&ProjectUsage> {
        self.projects.get(&project_id)
    }
}

impl Projection for Usage {
    const NAME: &'static str = "usage";

    fn apply(&mut self, envelope: &Envelope) {
        let Event::UsageRecorded {
            project_id,
            key_id,
            tags,
            endpoint,
            method,
            model,
            deployment,
            units,
            cost,
            features,
            ..
        } = &envelope.event
        else {
            return;
        };
        let project = self.projects.entry(*project_id).or_default();
        let day = project
            .days
            .entry(Day::of(envelope.recorded_at))
            .or_default();
        let dimensions = Dimensions {
            key_id: *key_id,
            endpoint: *endpoint,
            method: *method,
            model: model.clone(),
            deployment: *deployment,
            features: features.iter().collect(),
        };
        if tags.is_empty() {
            day.untagged
                .entry(dimensions.clone())
                .or_default()
                .add(units, *cost);
        }
        for tag in tags {
            day.tagged
                .entry(tag.clone())
                .or_default()
                .entry(dimensions.clone())
                .or_default()
                .add(units, *cost);
        }
        day.cells.entry(dimensions).or_default().add(units, *cost);
        project.requests.push(envelope.position);
    }
}

#[cfg(test)]
mod tests;
