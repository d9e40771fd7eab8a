//! Query strings at the edge: instants, and the parameters of the usage, billing and
//! request-log queries parsed once into the typed values the read side takes.

use super::error::ApiError;
use crate::limits::PAGE_SKIP_MAX;
use crate::models::ModelCatalog;
use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use steward_events::{
    Deployment, Endpoint, Feature, KeyId, RequestId, RequestMethod, Tag, Timestamp,
};
use steward_projections::usage::query::{
    Period, RequestFilter, TagCounting, UsageFilter, UsageQuery,
};

/// The instants a query or body may name: from the Unix epoch to the end of year 9999, so that
/// every period built from them (a bound a month earlier, a day later) stays printable.
fn in_range(instant: Timestamp) -> bool {
    /// 10000-01-01T00:00:00Z: the end of the last day a bare date may name.
    const END_OF_9999_MICROS: i64 = 253_402_300_800_000_000;
    (0..=END_OF_9999_MICROS).contains(&instant.unix_micros())
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` (UTC) or RFC 3339 with an offset, from 1970 to
/// 9999. A bare date as an `end` bound means the end of that day, so that the day is included.
pub fn parse_instant(text: &str, end: bool) -> Option<Timestamp> {
    parse_any_instant(text, end).filter(|instant| in_range(*instant))
}

fn parse_any_instant(text: &str, end: bool) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let start = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?);
        let start = Timestamp::from_datetime(start);
        return Some(if end {
            start.plus_seconds(86_400)
        } else {
            start
        });
    }
    if let Some(instant) = Timestamp::parse_rfc3339(text) {
        return Some(instant);
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Timestamp::from_datetime(Utc.from_utc_datetime(&naive)));
        }
    }
    None
}

/// An optional instant parameter, refused with the error JSON when it is not one.
pub fn instant_param(text: Option<&str>, end: bool) -> Result<Option<Timestamp>, ApiError> {
    text.map(|text| {
        parse_instant(text, end)
            .ok_or_else(|| ApiError::invalid_query(format!("not a date: {text:?}")))
    })
    .transpose()
}

/// `?as_of=`: the instant a list is asked for (a date, `2026-11-20`, or an RFC 3339 instant);
/// now when absent.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// The instant to answer for, from the log: a date or an RFC 3339 instant.
    pub as_of: Option<String>,
}

impl AsOfQuery {
    pub fn instant(&self) -> Result<Option<Timestamp>, ApiError> {
        instant_param(self.as_of.as_deref(), false)
    }
}

/// Refuses a page deeper than `PAGE_SKIP_MAX` entries: older entries are reached by cursor.
pub fn check_skip(page: usize, limit: usize) -> Result<(), ApiError> {
    if page.saturating_mul(limit) > PAGE_SKIP_MAX {
        return Err(ApiError::invalid_query(format!(
            "page × limit must be at most {PAGE_SKIP_MAX}; follow next_cursor for older entries"
        )));
    }
    Ok(())
}

/// A count in a query: a whole non-negative number, also written as one (`10.0`, which the
/// Deepgram SDKs send, since the spec types `limit` and `page` as numbers).
pub fn parse_count(text: &str) -> Option<usize> {
    if let Ok(count) = text.parse() {
        return Some(count);
    }
    let number: f64 = text.parse().ok()?;
    let whole = number.is_finite() && number >= 0.0 && number.fract() == 0.0;
    // Beyond 2^53 a float is no longer an exact count.
    (whole && number <= 9_007_199_254_740_992.0).then_some(number as usize)
}

pub fn invalid(name: &str, value: &str) -> ApiError {
    ApiError::invalid_query(format!("{name}={value:?} is not valid"))
}

/// The parameters of a usage, billing or request-log query. Every endpoint parses them all
/// (unknown names are ignored, as Deepgram's API has many), so a malformed one is refused
/// wherever it appears.
#[derive(Debug, Default)]
pub struct UsageParams {
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub filter: UsageFilter,
    /// As given; each endpoint parses the groupings it takes.
    pub grouping: Vec<String>,
    pub limit: Option<usize>,
    pub page: Option<usize>,
    pub request_id: Option<RequestId>,
    pub succeeded: Option<bool>,
    /// `format=csv`.
    pub csv: bool,
    /// A request-log page's `next_cursor`.
    pub cursor: Option<u64>,
}

impl UsageParams {
    /// Parses the pairs of a query string; a `model` is looked up in `models` by uuid or name.
    pub fn parse(pairs: Vec<(String, String)>, models: &ModelCatalog) -> Result<Self, ApiError> {
        let mut params = Self::default();
        for (name, value) in pairs {
            params.set(&name, value, models)?;
        }
        if let (Some(start), Some(end)) = (params.start, params.end) {
            if start >= end {
                return Err(ApiError::invalid_query("start must be before end"));
            }
        }
        Ok(params)
    }

    fn set(&mut self, name: &str, value: String, models: &ModelCatalog) -> Result<(), ApiError> {
        let bad = || invalid(name, &value);
        let filter = &mut self.filter;
        if let Some(feature) = Feature::parse(name) {
            // `diarize=true` keeps the requests that used it (several ORed), `false` drops them.
            let used = match value.as_str() {
                "true" | "1" => &mut filter.features_used,
                "false" | "0" => &mut filter.features_unused,
                _ => return Err(bad()),
            };
            used.insert(feature);
            return Ok(());
        }
        match name {
            "start" => self.start = Some(parse_instant(&value, false).ok_or_else(bad)?),
            "end" => self.end = Some(parse_instant(&value, true).ok_or_else(bad)?),
            "accessor" => filter.accessor = Some(value.parse::<KeyId>().map_err(|_| bad())?),
            "tag" => filter.tags.push(Tag::parse(&value).map_err(|_| bad())?),
            "method" => filter.method = Some(RequestMethod::parse(&value).ok_or_else(bad)?),
            "model" => {
                let entry = models.resolve(&value);
                let name = entry.map(|entry| entry.model.canonical_name().to_owned());
                filter.model = Some(name.unwrap_or(value));
            }
            "endpoint" => filter.endpoint = Some(Endpoint::parse(&value).ok_or_else(bad)?),
            "deployment" => filter.deployment = Some(Deployment::parse(&value).ok_or_else(bad)?),
            "grouping" | "grouping[]" => self.grouping.push(value),
            "limit" => self.limit = Some(parse_count(&value).ok_or_else(bad)?),
            "page" => self.page = Some(parse_count(&value).ok_or_else(bad)?),
            "request_id" => self.request_id = Some(value.parse().map_err(|_| bad())?),
            "status" => {
                self.succeeded = Some(match value.as_str() {
                    "succeeded" => true,
                    "failed" => false,
                    _ => return Err(bad()),
                })
            }
            "line_item" => filter.line_item = Some(value),
            "format" => self.csv |= value == "csv",
            "cursor" => self.cursor = Some(value.parse().map_err(|_| bad())?),
            _ => {}
        }
        Ok(())
    }

    /// The usage query over the named period (the last 30 days before `now` by default).
    pub fn usage_query(&self, now: Timestamp, counting: TagCounting) -> UsageQuery {
        UsageQuery {
            period: Period::between(self.start, self.end, now),
            filter: self.filter.clone(),
            counting,
        }
    }

    /// At most one grouping, parsed by `parse`.
    pub fn single_grouping<G>(
        &self,
        parse: impl Fn(&str) -> Option<G>,
    ) -> Result<Option<G>, ApiError> {
        if self.grouping.len() > 1 {
            return Err(ApiError::invalid_query("give at most one grouping"));
        }
        self.groupings(parse)
            .map(|groupings| groupings.into_iter().next())
    }

    /// Every grouping, parsed by `parse`, in the order given.
    pub fn groupings<G>(&self, parse: impl Fn(&str) -> Option<G>) -> Result<Vec<G>, ApiError> {
        self.grouping
            .iter()
            .map(|grouping| parse(grouping).ok_or_else(|| invalid("grouping", grouping)))
            .collect()
    }

    /// What the request log keeps: every tag named, and the other filters.
    pub fn request_filter(&self) -> RequestFilter {
        RequestFilter {
            start: self.start,
            end: self.end,
            request_id: self.request_id,
            succeeded: self.succeeded,
            tags: self.filter.tags.clone(),
            dimensions: UsageFilter {
                tags: Vec::new(),
                ..self.filter.clone()
            },
        }
    }
}
