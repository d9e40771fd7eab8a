//! Usage totals, breakdowns and fields. The queries are the usage read model's
//! (`steward_projections::usage::{query, report}`), asked through `Steward::usage_rows`; the
//! handlers parse the query string and put the answer in Deepgram's shape. The request log is
//! in `requests`, the billing breakdown in `billing_usage`.

use super::{
    auth::Principal,
    billing_usage,
    error::{ApiResult, ErrorBody},
    extract::{ApiPath, ApiQuery},
    query::UsageParams,
    requests, AppState,
};
use crate::models::ModelCatalog;
use axum::{extract::State, Json};
use serde::Serialize;
use steward_events::{Permission, ProjectId, Timestamp};
use steward_projections::usage::{
    query::{Period, TagCounting},
    report::{self, UsageFields},
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The usage routes, the request log's and the billing breakdown's, in the order the OpenAPI
/// document lists them.
pub fn router() -> OpenApiRouter<AppState> {
    requests::router()
        .routes(routes!(usage_summary))
        .routes(routes!(usage_breakdown))
        .routes(routes!(usage_fields))
        .merge(billing_usage::router())
}

/// A day on the wire, `YYYY-MM-DD`, as Deepgram's usage and billing answers give their periods.
/// A period's end is shown as its last day (the instant itself is exclusive).
#[derive(Clone, Copy, Debug)]
pub struct WireDate(Timestamp);

impl WireDate {
    pub fn start_of(period: Period) -> Self {
        Self(period.start)
    }

    pub fn end_of(period: Period) -> Self {
        Self(Timestamp::from_unix_micros(
            period
                .end
                .unix_micros()
                .saturating_sub(1)
                .max(period.start.unix_micros()),
        ))
    }
}

impl Serialize for WireDate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0.to_datetime().format("%Y-%m-%d"))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Resolution {
    pub units: &'static str,
    pub amount: u32,
}

pub(super) const DAY_RESOLUTION: Resolution = Resolution {
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
}

impl From<report::UsageFigures> for UsageFigures {
    fn from(figures: report::UsageFigures) -> Self {
        Self {
            hours: figures.hours(),
            total_hours: figures.total_hours(),
            agent_hours: figures.agent_hours(),
            tokens_in: figures.tokens_in,
            tokens_out: figures.tokens_out,
            tts_characters: figures.characters,
            requests: figures.requests,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageSummaryResponse {
    #[schema(value_type = String, format = Date)]
    pub start: WireDate,
    /// The period's last day.
    #[schema(value_type = String, format = Date)]
    pub end: WireDate,
    pub resolution: Resolution,
    #[serde(flatten)]
    pub figures: UsageFigures,
    /// The same sums per day with usage, as older Deepgram clients read them.
    pub results: Vec<UsageDay>,
}

/// One day of a usage summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageDay {
    #[schema(value_type = String, format = Date)]
    pub start: WireDate,
    #[schema(value_type = String, format = Date)]
    pub end: WireDate,
    #[serde(flatten)]
    pub figures: UsageFigures,
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
    let query = UsageParams::parse(pairs, &state.models)?
        .usage_query(state.steward.now(), TagCounting::Once);
    let period = query.period;
    let rows = (state.steward)
        .usage_rows(&principal, project_id, query, Permission::UsageRead)
        .await?;
    Ok(Json(UsageSummaryResponse {
        start: WireDate::start_of(period),
        end: WireDate::end_of(period),
        resolution: DAY_RESOLUTION,
        figures: report::UsageFigures::of(&rows).into(),
        results: (report::usage_breakdown(&rows, None, period).into_iter())
            .map(|day| UsageDay {
                start: WireDate::start_of(day.period),
                end: WireDate::end_of(day.period),
                figures: day.figures.into(),
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageGrouping {
    #[schema(value_type = String, format = Date)]
    pub start: WireDate,
    /// The group's last day.
    #[schema(value_type = String, format = Date)]
    pub end: WireDate,
    pub accessor: Option<String>,
    pub endpoint: Option<String>,
    pub feature_set: Option<String>,
    /// The group's model when grouped by model; empty otherwise.
    pub models: Vec<String>,
    pub method: Option<String>,
    /// The group's tag when grouped by tag (null for untagged requests); null otherwise.
    pub tags: Option<Vec<String>>,
    pub deployment: Option<String>,
}

impl UsageGrouping {
    /// The grouping of one breakdown line: its period, and its value in the slot of `grouping`.
    fn of(period: Period, grouping: Option<report::UsageGrouping>, value: Option<String>) -> Self {
        use report::UsageGrouping as G;
        let mut view = Self {
            start: WireDate::start_of(period),
            end: WireDate::end_of(period),
            accessor: None,
            endpoint: None,
            feature_set: None,
            models: Vec::new(),
            method: None,
            tags: None,
            deployment: None,
        };
        match grouping {
            Some(G::Accessor) => view.accessor = value,
            Some(G::Endpoint) => view.endpoint = value,
            Some(G::FeatureSet) => view.feature_set = value,
            Some(G::Models) => view.models = value.into_iter().collect(),
            Some(G::Method) => view.method = value,
            Some(G::Tags) => view.tags = value.map(|tag| vec![tag]),
            Some(G::Deployment) => view.deployment = value,
            None => {}
        }
        view
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBreakdownResult {
    #[serde(flatten)]
    pub figures: UsageFigures,
    pub grouping: UsageGrouping,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBreakdownResponse {
    #[schema(value_type = String, format = Date)]
    pub start: WireDate,
    /// The period's last day.
    #[schema(value_type = String, format = Date)]
    pub end: WireDate,
    pub resolution: Resolution,
    pub results: Vec<UsageBreakdownResult>,
}

impl UsageBreakdownResponse {
    fn of(
        period: Period,
        grouping: Option<report::UsageGrouping>,
        groups: Vec<report::UsageGroup>,
    ) -> Self {
        let result = |group: report::UsageGroup| UsageBreakdownResult {
            figures: group.figures.into(),
            grouping: UsageGrouping::of(group.period, grouping, group.value),
        };
        Self {
            start: WireDate::start_of(period),
            end: WireDate::end_of(period),
            resolution: DAY_RESOLUTION,
            results: groups.into_iter().map(result).collect(),
        }
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
    let params = UsageParams::parse(pairs, &state.models)?;
    let grouping = params.single_grouping(report::UsageGrouping::parse)?;
    let counting = TagCounting::per_tag_if(grouping == Some(report::UsageGrouping::Tags));
    let query = params.usage_query(state.steward.now(), counting);
    let period = query.period;
    let rows = (state.steward)
        .usage_rows(&principal, project_id, query, Permission::UsageRead)
        .await?;
    let groups = report::usage_breakdown(&rows, grouping, period);
    Ok(Json(UsageBreakdownResponse::of(period, grouping, groups)))
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

impl ModelField {
    /// A model requests used, as the catalog describes it. A model no longer in the catalog
    /// keeps its name, with an id derived from it (a UUID, as typed clients expect).
    fn of(name: String, models: &ModelCatalog) -> Self {
        match models.by_canonical_name(&name) {
            Some(entry) => Self {
                language: entry.model.languages().first().cloned().unwrap_or_default(),
                version: entry.model.version().to_owned(),
                model_id: entry.model.uuid().to_string(),
                name,
            },
            None => Self {
                model_id: models.model_id_of(&name).to_string(),
                language: String::new(),
                version: String::new(),
                name,
            },
        }
    }
}

impl UsageFieldsResponse {
    fn of(fields: UsageFields, models: &ModelCatalog) -> Self {
        Self {
            tags: fields.tags.into_iter().collect(),
            models: (fields.models.into_iter())
                .map(|name| ModelField::of(name, models))
                .collect(),
            processing_methods: fields.methods.into_iter().map(str::to_owned).collect(),
            features: (fields.features.iter())
                .map(|feature| feature.name().to_owned())
                .collect(),
        }
    }
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
    let query = UsageParams::parse(pairs, &state.models)?
        .usage_query(state.steward.now(), TagCounting::PerTag);
    let rows = (state.steward)
        .usage_rows(&principal, project_id, query, Permission::UsageRead)
        .await?;
    Ok(Json(UsageFieldsResponse::of(
        UsageFields::of(&rows),
        &state.models,
    )))
}
