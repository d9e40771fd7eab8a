//! Usage: the request log, usage totals and breakdowns, billing breakdowns and the fields to
//! filter them by. Totals read the per-day cells of the usage projection, O(days × groups) of
//! the period, never the requests themselves (except to filter by several tags at once, where
//! only the requests know which carry any of them).

use super::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiPath, ApiQuery},
    newest_first,
    usd::Usd,
    AppState,
};
use axum::{extract::State, response::IntoResponse, Json};
use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;
use std::{
    collections::{BTreeMap, BTreeSet},
    ops::ControlFlow,
};
use steward_events::EventLog;
use steward_events::{
    Deployment, Endpoint, KeyId, Nanodollars, Permission, ProjectId, RequestId, RequestMethod, Tag,
    Timestamp,
};
use steward_projections::{
    usage::{Cell, Day, Dimensions, ProjectUsage, RequestView},
    Projections,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Requests per page of the request log: 10 by default, at most 1000.
pub const MAX_REQUESTS_PAGE: usize = 1000;
const DEFAULT_REQUESTS_PAGE: usize = 10;
/// The period a usage query covers when it names none: the last 30 days.
const DEFAULT_PERIOD_DAYS: i64 = 30;
const DAY_MICROS: i64 = 86_400 * 1_000_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests))
        .routes(routes!(get_request))
        .routes(routes!(usage_summary))
        .routes(routes!(usage_breakdown))
        .routes(routes!(usage_fields))
        .routes(routes!(billing_breakdown))
        .routes(routes!(billing_fields))
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` (UTC) or RFC 3339 with an offset. A bare date as
/// an `end` bound means the end of that day, so that the day is included.
pub fn parse_instant(text: &str, end: bool) -> Option<Timestamp> {
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

/// What a usage, request-log or billing query asks for.
#[derive(Debug, Default)]
struct Filter {
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    accessor: Option<KeyId>,
    tags: Vec<Tag>,
    method: Option<RequestMethod>,
    model: Option<String>,
    endpoint: Option<Endpoint>,
    deployment: Option<Deployment>,
    grouping: Vec<String>,
    limit: Option<usize>,
    page: Option<usize>,
    request_id: Option<RequestId>,
    status: Option<bool>,
    line_item: Option<String>,
}

fn invalid(name: &str, value: &str) -> ApiError {
    ApiError::invalid_query(format!("{name}={value:?} is not valid"))
}

impl Filter {
    /// Parses the query pairs; unknown names are ignored, as Deepgram's API has many.
    fn parse(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut filter = Self::default();
        for (name, value) in pairs {
            let bad = || invalid(&name, &value);
            match name.as_str() {
                "start" => filter.start = Some(parse_instant(&value, false).ok_or_else(bad)?),
                "end" => filter.end = Some(parse_instant(&value, true).ok_or_else(bad)?),
                "accessor" => filter.accessor = Some(value.parse().map_err(|_| bad())?),
                "tag" => filter.tags.push(Tag::parse(&value).map_err(|_| bad())?),
                "method" => filter.method = Some(RequestMethod::parse(&value).ok_or_else(bad)?),
                "model" => filter.model = Some(value),
                "endpoint" => filter.endpoint = Some(Endpoint::parse(&value).ok_or_else(bad)?),
                "deployment" => {
                    filter.deployment = Some(Deployment::parse(&value).ok_or_else(bad)?)
                }
                "grouping" | "grouping[]" => filter.grouping.push(value),
                "limit" => filter.limit = Some(value.parse().map_err(|_| bad())?),
                "page" => filter.page = Some(value.parse().map_err(|_| bad())?),
                "request_id" => filter.request_id = Some(value.parse().map_err(|_| bad())?),
                "status" => {
                    filter.status = Some(match value.as_str() {
                        "succeeded" => true,
                        "failed" => false,
                        _ => return Err(bad()),
                    })
                }
                "line_item" => filter.line_item = Some(value),
                _ => {}
            }
        }
        if let (Some(start), Some(end)) = (filter.start, filter.end) {
            if start >= end {
                return Err(ApiError::invalid_query("start must be before end"));
            }
        }
        Ok(filter)
    }

    /// The period `[start, end)`: the last 30 days when unnamed.
    fn period(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        let end = self.end.unwrap_or(now);
        let start = self
            .start
            .unwrap_or_else(|| end.plus_seconds(-DEFAULT_PERIOD_DAYS * 86_400));
        (start, end)
    }

    fn matches(&self, dimensions: &Dimensions) -> bool {
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
                .is_none_or(|line_item| line_item == line_item_code(dimensions))
    }
}

/// A billing line item: the endpoint and the model, such as `listen::nova-3`.
fn line_item_code(dimensions: &Dimensions) -> String {
    format!("{}::{}", dimensions.endpoint.name(), dimensions.model)
}

/// One cell of a query: a day, the tag it is counted under (when grouping by tag), its
/// dimensions and its sums.
struct Row {
    day: Day,
    tag: Option<Tag>,
    dimensions: Dimensions,
    cell: Cell,
}

fn dimensions_of(request: &RequestView) -> Dimensions {
    Dimensions {
        key_id: request.key_id,
        endpoint: request.endpoint,
        method: request.method,
        model: request.model.clone(),
        deployment: request.deployment,
    }
}

fn cell_of(request: &RequestView) -> Cell {
    Cell {
        requests: 1,
        audio_milliseconds: request.units.audio_milliseconds,
        characters: request.units.characters,
        tokens_in: request.units.tokens_in,
        tokens_out: request.units.tokens_out,
        cost: request.cost,
    }
}

/// The cells of `usage` in `[start, end)` that `filter` selects. With `by_tag`, each is counted
/// under each of its tags (a request with two tags under both) and untagged ones under `None`.
fn rows(
    log: &EventLog,
    usage: &ProjectUsage,
    filter: &Filter,
    (start, end): (Timestamp, Timestamp),
    by_tag: bool,
) -> ApiResult<Vec<Row>> {
    let mut rows = Vec::new();
    if filter.tags.len() > 1 {
        // Only the requests know which of several tags each carries.
        for &position in &usage.requests {
            let request = &request_at(log, position)?;
            if request.recorded_at < start || request.recorded_at >= end {
                continue;
            }
            let dimensions = dimensions_of(request);
            if !filter.matches(&dimensions) {
                continue;
            }
            let wanted: Vec<&Tag> = request
                .tags
                .iter()
                .filter(|tag| filter.tags.contains(tag))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let tags: Vec<Option<Tag>> = if by_tag {
                wanted.into_iter().cloned().map(Some).collect()
            } else {
                vec![None]
            };
            for tag in tags {
                rows.push(Row {
                    day: Day::of(request.recorded_at),
                    tag,
                    dimensions: dimensions.clone(),
                    cell: cell_of(request),
                });
            }
        }
        return Ok(rows);
    }
    let first_day = Day::of(start);
    let last_day = Day::of(Timestamp::from_unix_micros(end.unix_micros() - 1));
    for (&day, usage_day) in usage.days_between(first_day, Day(last_day.0 + 1)) {
        let mut push = |tag: Option<&Tag>, cells: &BTreeMap<Dimensions, Cell>| {
            for (dimensions, cell) in cells {
                if filter.matches(dimensions) {
                    rows.push(Row {
                        day,
                        tag: tag.cloned(),
                        dimensions: dimensions.clone(),
                        cell: *cell,
                    });
                }
            }
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
    Ok(rows)
}

/// The log positions of a project's recorded requests, oldest first.
fn request_positions(projections: &Projections, project_id: ProjectId) -> &[u64] {
    project_usage(projections, project_id).map_or(&[], |usage| &usage.requests)
}

/// The request recorded at `position`, read back from the event log.
pub(super) fn request_at(log: &EventLog, position: u64) -> ApiResult<RequestView> {
    let envelope = log
        .read_at(position)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("no event at position {position}")))?;
    RequestView::of(&envelope)
        .ok_or_else(|| ApiError::internal(format!("position {position} is no usage record")))
}

/// A project's recorded request, by id.
pub(super) fn recorded_request(
    state: &AppState,
    project_id: ProjectId,
    request_id: RequestId,
) -> ApiResult<Option<RequestView>> {
    let log = state.steward.log();
    log.request_position(project_id, request_id)
        .map_err(ApiError::internal)?
        .map(|position| request_at(state.steward.log(), position))
        .transpose()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Resolution {
    pub units: &'static str,
    pub amount: u32,
}

const DAY_RESOLUTION: Resolution = Resolution {
    units: "day",
    amount: 1,
};

/// Sums in Deepgram's usage units. Hours are computed from whole milliseconds, so they do not
/// drift with the number of cells summed.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct UsageFigures {
    /// Hours of audio on listen.
    pub hours: f64,
    /// Hours of audio on every endpoint.
    pub total_hours: f64,
    /// Hours of voice agent audio.
    pub agent_hours: f64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub tts_characters: u64,
    pub requests: u64,
    #[serde(skip)]
    listen_milliseconds: u64,
    #[serde(skip)]
    agent_milliseconds: u64,
    #[serde(skip)]
    total_milliseconds: u64,
}

impl UsageFigures {
    fn add(&mut self, dimensions: &Dimensions, cell: &Cell) {
        match dimensions.endpoint {
            Endpoint::Listen => self.listen_milliseconds += cell.audio_milliseconds,
            Endpoint::Agent => self.agent_milliseconds += cell.audio_milliseconds,
            Endpoint::Read | Endpoint::Speak => {}
        }
        self.total_milliseconds += cell.audio_milliseconds;
        let hours = |milliseconds: u64| milliseconds as f64 / 3_600_000.0;
        self.hours = hours(self.listen_milliseconds);
        self.agent_hours = hours(self.agent_milliseconds);
        self.total_hours = hours(self.total_milliseconds);
        self.tokens_in += cell.tokens_in;
        self.tokens_out += cell.tokens_out;
        self.tts_characters += cell.characters;
        self.requests += cell.requests;
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageSummaryResponse {
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    pub resolution: Resolution,
    #[serde(flatten)]
    pub figures: UsageFigures,
}

pub(super) fn project_usage(
    projections: &Projections,
    project_id: ProjectId,
) -> Option<&ProjectUsage> {
    projections.usage.project(project_id)
}

/// The cells a usage or billing query selects (see `rows`), once the caller may `permission`.
/// The aggregation then runs outside the read lock.
fn select(
    state: &AppState,
    principal: &Principal,
    project_id: ProjectId,
    filter: &Filter,
    permission: Permission,
    by_tag: bool,
) -> ApiResult<((Timestamp, Timestamp), Vec<Row>)> {
    let period = filter.period(state.steward.now());
    state.steward.read(|projections| {
        principal
            .access(projections, project_id)?
            .require(permission)?;
        let selected = match project_usage(projections, project_id) {
            Some(usage) => rows(state.steward.log(), usage, filter, period, by_tag)?,
            None => Vec::new(),
        };
        Ok((period, selected))
    })
}

/// Usage totals over a period, filtered by accessor, tag, method, model, endpoint, deployment.
#[utoipa::path(get, path = "/v1/projects/{project_id}/usage", tag = "usage",
    params(("project_id" = String, Path, format = Uuid),
        ("start" = Option<String>, Query), ("end" = Option<String>, Query),
        ("accessor" = Option<String>, Query), ("tag" = Option<Vec<String>>, Query),
        ("method" = Option<String>, Query), ("model" = Option<String>, Query),
        ("endpoint" = Option<String>, Query), ("deployment" = Option<String>, Query)),
    responses((status = 200, body = UsageSummaryResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn usage_summary(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Json<UsageSummaryResponse>> {
    let filter = Filter::parse(pairs)?;
    let (period, selected) = select(
        &state,
        &principal,
        project_id,
        &filter,
        Permission::UsageRead,
        false,
    )?;
    let mut figures = UsageFigures::default();
    for row in &selected {
        figures.add(&row.dimensions, &row.cell);
    }
    Ok(Json(UsageSummaryResponse {
        start: period.0,
        end: period.1,
        resolution: DAY_RESOLUTION,
        figures,
    }))
}

const USAGE_GROUPINGS: [&str; 7] = [
    "accessor",
    "endpoint",
    "feature_set",
    "models",
    "method",
    "tags",
    "deployment",
];

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageGrouping {
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    pub accessor: Option<String>,
    pub endpoint: Option<String>,
    pub feature_set: Option<String>,
    pub models: Option<String>,
    pub method: Option<String>,
    pub tags: Option<String>,
    pub deployment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBreakdownResult {
    #[serde(flatten)]
    pub figures: UsageFigures,
    pub grouping: UsageGrouping,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBreakdownResponse {
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    pub resolution: Resolution,
    pub results: Vec<UsageBreakdownResult>,
}

/// The value of one grouping dimension for a row.
fn group_value(grouping: &str, row: &Row) -> Option<String> {
    match grouping {
        "accessor" => Some(row.dimensions.key_id.to_string()),
        "endpoint" => Some(row.dimensions.endpoint.name().to_owned()),
        "models" => Some(row.dimensions.model.clone()),
        "method" => Some(row.dimensions.method.name().to_owned()),
        "tags" => row.tag.as_ref().map(|tag| tag.as_str().to_owned()),
        "deployment" => Some(row.dimensions.deployment.name().to_owned()),
        "line_item" => Some(line_item_code(&row.dimensions)),
        // Steward records no feature sets; every request has the plain one.
        "feature_set" => Some("default".to_owned()),
        _ => None,
    }
}

/// Usage per day and per value of one grouping dimension.
#[utoipa::path(get, path = "/v1/projects/{project_id}/usage/breakdown", tag = "usage",
    params(("project_id" = String, Path, format = Uuid),
        ("grouping" = Option<String>, Query, description = "accessor, endpoint, feature_set, models, method, tags or deployment"),
        ("start" = Option<String>, Query), ("end" = Option<String>, Query),
        ("accessor" = Option<String>, Query), ("tag" = Option<Vec<String>>, Query),
        ("method" = Option<String>, Query), ("model" = Option<String>, Query),
        ("endpoint" = Option<String>, Query), ("deployment" = Option<String>, Query)),
    responses((status = 200, body = UsageBreakdownResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn usage_breakdown(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Json<UsageBreakdownResponse>> {
    let filter = Filter::parse(pairs)?;
    if filter.grouping.len() > 1 {
        return Err(ApiError::invalid_query("give at most one grouping"));
    }
    let grouping = filter.grouping.first().cloned();
    if let Some(grouping) = &grouping {
        if !USAGE_GROUPINGS.contains(&grouping.as_str()) {
            return Err(invalid("grouping", grouping));
        }
    }
    let by_tag = grouping.as_deref() == Some("tags");
    let (period, selected) = select(
        &state,
        &principal,
        project_id,
        &filter,
        Permission::UsageRead,
        by_tag,
    )?;
    let mut groups: BTreeMap<(Day, Option<String>), UsageFigures> = BTreeMap::new();
    for row in &selected {
        let value = grouping.as_deref().and_then(|g| group_value(g, row));
        groups
            .entry((row.day, value))
            .or_default()
            .add(&row.dimensions, &row.cell);
    }
    let results = groups
        .into_iter()
        .map(|((day, value), figures)| {
            let mut grouping_view = UsageGrouping {
                start: day.start().max(period.0),
                end: Timestamp::from_unix_micros(day.start().unix_micros() + DAY_MICROS)
                    .min(period.1),
                accessor: None,
                endpoint: None,
                feature_set: None,
                models: None,
                method: None,
                tags: None,
                deployment: None,
            };
            let slot = match grouping.as_deref() {
                Some("accessor") => Some(&mut grouping_view.accessor),
                Some("endpoint") => Some(&mut grouping_view.endpoint),
                Some("feature_set") => Some(&mut grouping_view.feature_set),
                Some("models") => Some(&mut grouping_view.models),
                Some("method") => Some(&mut grouping_view.method),
                Some("tags") => Some(&mut grouping_view.tags),
                Some("deployment") => Some(&mut grouping_view.deployment),
                _ => None,
            };
            if let Some(slot) = slot {
                *slot = value;
            }
            UsageBreakdownResult {
                figures,
                grouping: grouping_view,
            }
        })
        .collect();
    Ok(Json(UsageBreakdownResponse {
        start: period.0,
        end: period.1,
        resolution: DAY_RESOLUTION,
        results,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelField {
    pub name: String,
    pub language: String,
    pub version: String,
    pub model_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageFieldsResponse {
    pub tags: Vec<String>,
    pub models: Vec<ModelField>,
    pub processing_methods: Vec<String>,
    pub features: Vec<String>,
}

/// The tags, models and methods used in a period, to filter usage by.
#[utoipa::path(get, path = "/v1/projects/{project_id}/usage/fields", tag = "usage",
    params(("project_id" = String, Path, format = Uuid),
        ("start" = Option<String>, Query), ("end" = Option<String>, Query)),
    responses((status = 200, body = UsageFieldsResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn usage_fields(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Json<UsageFieldsResponse>> {
    let filter = Filter::parse(pairs)?;
    let (_, selected) = select(
        &state,
        &principal,
        project_id,
        &filter,
        Permission::UsageRead,
        true,
    )?;
    let (mut tags, mut models, mut methods) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for row in selected {
        if let Some(tag) = row.tag {
            tags.insert(tag.as_str().to_owned());
        }
        models.insert(row.dimensions.model);
        methods.insert(row.dimensions.method.name().to_owned());
    }
    Ok(Json(UsageFieldsResponse {
        tags: tags.into_iter().collect(),
        models: models
            .into_iter()
            .map(|name| ModelField {
                model_id: name.clone(),
                language: String::new(),
                version: String::new(),
                name,
            })
            .collect(),
        processing_methods: methods.into_iter().collect(),
        features: Vec::new(),
    }))
}

const BILLING_GROUPINGS: [&str; 4] = ["accessor", "deployment", "line_item", "tags"];

#[derive(Debug, Serialize, ToSchema)]
pub struct BillingGrouping {
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    pub accessor: Option<String>,
    pub deployment: Option<String>,
    pub line_item: Option<String>,
    pub tags: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillingBreakdownResult {
    /// Exact to the nano-dollar.
    #[schema(value_type = f64)]
    pub dollars: Usd,
    pub grouping: BillingGrouping,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillingBreakdownResponse {
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    pub resolution: Resolution,
    pub results: Vec<BillingBreakdownResult>,
}

/// Dollars over a period, grouped by any of accessor, deployment, line_item and tags. Grouped
/// by tags, a request with two tags counts under each, and untagged requests have `tags: null`.
/// Answers CSV (with a total line counting each request once) for `Accept: text/csv` or
/// `format=csv`.
#[utoipa::path(get, path = "/v1/projects/{project_id}/billing/breakdown", tag = "billing",
    params(("project_id" = String, Path, format = Uuid),
        ("grouping" = Option<Vec<String>>, Query, description = "any of accessor, deployment, line_item, tags"),
        ("start" = Option<String>, Query), ("end" = Option<String>, Query),
        ("accessor" = Option<String>, Query), ("deployment" = Option<String>, Query),
        ("tag" = Option<Vec<String>>, Query), ("line_item" = Option<String>, Query),
        ("format" = Option<String>, Query, description = "csv for CSV")),
    responses((status = 200, description = "The breakdown, as JSON or, when asked, CSV",
            content((BillingBreakdownResponse = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn billing_breakdown(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    headers: axum::http::HeaderMap,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<axum::response::Response> {
    let wants_csv = pairs
        .iter()
        .any(|(name, value)| name == "format" && value == "csv")
        || headers
            .get(axum::http::header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv"));
    let filter = Filter::parse(pairs)?;
    for grouping in &filter.grouping {
        if !BILLING_GROUPINGS.contains(&grouping.as_str()) {
            return Err(invalid("grouping", grouping));
        }
    }
    let by_tag = filter.grouping.iter().any(|g| g == "tags");
    let select_billed = |by_tag| {
        select(
            &state,
            &principal,
            project_id,
            &filter,
            Permission::BillingRead,
            by_tag,
        )
    };
    let (period, selected) = select_billed(by_tag)?;
    let breakdown = billing_groups(&filter, period, &selected);
    if wants_csv {
        // The total line counts each request once, whatever its tags.
        let total = if by_tag {
            select_billed(false)?
                .1
                .iter()
                .map(|row| row.cell.cost)
                .sum()
        } else {
            selected.iter().map(|row| row.cell.cost).sum()
        };
        let csv = billing_csv(&breakdown, total).map_err(ApiError::internal)?;
        return Ok((
            [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv,
        )
            .into_response());
    }
    Ok(Json(breakdown).into_response())
}

/// The billing breakdown of the selected rows, grouped as `filter` asks.
fn billing_groups(
    filter: &Filter,
    period: (Timestamp, Timestamp),
    selected: &[Row],
) -> BillingBreakdownResponse {
    let mut groups: BTreeMap<Vec<Option<String>>, Nanodollars> = BTreeMap::new();
    for row in selected {
        let key = filter
            .grouping
            .iter()
            .map(|grouping| group_value(grouping, row))
            .collect();
        *groups.entry(key).or_default() += row.cell.cost;
    }
    let results = groups
        .into_iter()
        .map(|(values, dollars)| {
            let mut grouping_view = BillingGrouping {
                start: period.0,
                end: period.1,
                accessor: None,
                deployment: None,
                line_item: None,
                tags: None,
            };
            for (grouping, value) in filter.grouping.iter().zip(values) {
                match grouping.as_str() {
                    "accessor" => grouping_view.accessor = value,
                    "deployment" => grouping_view.deployment = value,
                    "line_item" => grouping_view.line_item = value,
                    _ => grouping_view.tags = value,
                }
            }
            BillingBreakdownResult {
                dollars: Usd(dollars),
                grouping: grouping_view,
            }
        })
        .collect();
    BillingBreakdownResponse {
        start: period.0,
        end: period.1,
        resolution: DAY_RESOLUTION,
        results,
    }
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

fn billing_csv(
    breakdown: &BillingBreakdownResponse,
    total: Nanodollars,
) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(BILLING_CSV_HEADER)?;
    for result in &breakdown.results {
        let grouping = &result.grouping;
        writer.write_record([
            "line",
            grouping.start.to_rfc3339().as_str(),
            grouping.end.to_rfc3339().as_str(),
            grouping.accessor.as_deref().unwrap_or(""),
            grouping.deployment.as_deref().unwrap_or(""),
            grouping.line_item.as_deref().unwrap_or(""),
            grouping.tags.as_deref().unwrap_or(""),
            result.dollars.0.to_usd_string().as_str(),
        ])?;
    }
    writer.write_record([
        "total",
        breakdown.start.to_rfc3339().as_str(),
        breakdown.end.to_rfc3339().as_str(),
        "",
        "",
        "",
        "",
        total.to_usd_string().as_str(),
    ])?;
    let bytes = writer.into_inner().map_err(|error| error.into_error())?;
    Ok(String::from_utf8(bytes).expect("the CSV of UTF-8 fields is UTF-8"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillingFieldsResponse {
    pub accessors: Vec<String>,
    pub deployments: Vec<String>,
    pub tags: Vec<String>,
    /// Line item code → label.
    pub line_items: BTreeMap<String, String>,
}

/// The accessors, deployments, tags and line items billed in a period.
#[utoipa::path(get, path = "/v1/projects/{project_id}/billing/fields", tag = "billing",
    params(("project_id" = String, Path, format = Uuid),
        ("start" = Option<String>, Query), ("end" = Option<String>, Query)),
    responses((status = 200, body = BillingFieldsResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn billing_fields(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Json<BillingFieldsResponse>> {
    let filter = Filter::parse(pairs)?;
    let (_, selected) = select(
        &state,
        &principal,
        project_id,
        &filter,
        Permission::BillingRead,
        true,
    )?;
    let (mut accessors, mut deployments, mut tags, mut line_items) = (
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeMap::new(),
    );
    for row in selected {
        accessors.insert(row.dimensions.key_id.to_string());
        deployments.insert(row.dimensions.deployment.name().to_owned());
        if let Some(tag) = row.tag {
            tags.insert(tag.as_str().to_owned());
        }
        line_items.insert(
            line_item_code(&row.dimensions),
            format!(
                "{} ({})",
                row.dimensions.endpoint.name(),
                row.dimensions.model
            ),
        );
    }
    Ok(Json(BillingFieldsResponse {
        accessors: accessors.into_iter().collect(),
        deployments: deployments.into_iter().collect(),
        tags: tags.into_iter().collect(),
        line_items,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestDetails {
    /// The request's cost, exact to the nano-dollar.
    #[schema(value_type = f64)]
    pub usd: Usd,
    /// Seconds of audio.
    pub duration: f64,
    pub model: String,
    pub method: &'static str,
    pub endpoint: &'static str,
    pub tags: Vec<String>,
    pub characters: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestResponseView {
    pub code: u16,
    #[schema(value_type = String, format = DateTime)]
    pub completed: Timestamp,
    pub details: RequestDetails,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestItem {
    #[schema(value_type = String, format = Uuid)]
    pub request_id: RequestId,
    #[schema(value_type = String, format = Uuid)]
    pub project_uuid: ProjectId,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
    pub path: String,
    #[schema(value_type = String, format = Uuid)]
    pub api_key_id: KeyId,
    pub response: RequestResponseView,
    pub code: u16,
    pub deployment: &'static str,
    pub callback: Option<String>,
}

fn request_item(project_id: ProjectId, request: &RequestView) -> RequestItem {
    RequestItem {
        request_id: request.request_id,
        project_uuid: project_id,
        created: request.recorded_at,
        path: format!("/v1/{}", request.endpoint.name()),
        api_key_id: request.key_id,
        response: RequestResponseView {
            code: request.status_code,
            completed: request.recorded_at,
            details: RequestDetails {
                usd: Usd(request.cost),
                duration: request.units.audio_milliseconds as f64 / 1000.0,
                model: request.model.clone(),
                method: request.method.name(),
                endpoint: request.endpoint.name(),
                tags: request.tags.iter().map(|t| t.as_str().to_owned()).collect(),
                characters: request.units.characters,
                tokens_in: request.units.tokens_in,
                tokens_out: request.units.tokens_out,
            },
        },
        code: request.status_code,
        deployment: request.deployment.name(),
        callback: None,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListRequestsResponse {
    pub page: usize,
    pub limit: usize,
    pub requests: Vec<RequestItem>,
}

/// The request log, newest first, paginated and filterable.
#[utoipa::path(get, path = "/v1/projects/{project_id}/requests", tag = "usage",
    params(("project_id" = String, Path, format = Uuid),
        ("start" = Option<String>, Query), ("end" = Option<String>, Query),
        ("limit" = Option<usize>, Query, description = "1 to 1000; 10 by default"),
        ("page" = Option<usize>, Query, description = "from 0"),
        ("accessor" = Option<String>, Query), ("request_id" = Option<String>, Query),
        ("deployment" = Option<String>, Query), ("endpoint" = Option<String>, Query),
        ("method" = Option<String>, Query), ("status" = Option<String>, Query, description = "succeeded or failed")),
    responses((status = 200, body = ListRequestsResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_requests(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Json<ListRequestsResponse>> {
    let filter = Filter::parse(pairs)?;
    let limit = filter.limit.unwrap_or(DEFAULT_REQUESTS_PAGE);
    if !(1..=MAX_REQUESTS_PAGE).contains(&limit) {
        return Err(ApiError::invalid_query(format!(
            "limit must be 1 to {MAX_REQUESTS_PAGE}"
        )));
    }
    let page = filter.page.unwrap_or(0);
    state.steward.read(|projections| {
        principal
            .access(projections, project_id)?
            .require(Permission::UsageRead)
    })?;
    let wanted = |request: &RequestView| {
        filter
            .start
            .is_none_or(|start| request.recorded_at >= start)
            && filter.end.is_none_or(|end| request.recorded_at < end)
            && filter.request_id.is_none_or(|id| id == request.request_id)
            && filter
                .status
                .is_none_or(|succeeded| succeeded == (request.status_code < 400))
            && filter.tags.iter().all(|tag| request.tags.contains(tag))
            && filter.matches(&dimensions_of(request))
    };
    let mut to_skip = page.saturating_mul(limit);
    let mut requests = Vec::new();
    let log = state.steward.log();
    newest_first(
        &state,
        |projections| request_positions(projections, project_id),
        |position| {
            let request = request_at(log, position)?;
            if !wanted(&request) {
                return Ok(ControlFlow::Continue(()));
            }
            if to_skip > 0 {
                to_skip -= 1;
                return Ok(ControlFlow::Continue(()));
            }
            requests.push(request_item(project_id, &request));
            Ok(if requests.len() == limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        },
    )?;
    Ok(Json(ListRequestsResponse {
        page,
        limit,
        requests,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GetRequestResponse {
    pub request: RequestItem,
}

/// One recorded request; its cost in USD is at `response.details.usd`.
#[utoipa::path(get, path = "/v1/projects/{project_id}/requests/{request_id}", tag = "usage",
    params(("project_id" = String, Path, format = Uuid), ("request_id" = String, Path, format = Uuid)),
    responses((status = 200, body = GetRequestResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_request(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, request_id)): ApiPath<(ProjectId, RequestId)>,
) -> ApiResult<Json<GetRequestResponse>> {
    state.steward.read(|projections| {
        principal
            .access(projections, project_id)?
            .require(Permission::UsageRead)
    })?;
    let request = recorded_request(&state, project_id, request_id)?
        .ok_or_else(|| ApiError::not_found("Request"))?;
    Ok(Json(GetRequestResponse {
        request: request_item(project_id, &request),
    }))
}
