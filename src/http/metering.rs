//! Metering: the service in front of the paid API records each request it served. Priced from
//! the price table, paid from the soonest-expiring credit, idempotent per request id.

use super::{
    auth::{Metering, Principal},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiPath},
    keys::parse_tags,
    usd::{decimal_text, Usd},
    AppState,
};
use crate::domain::{DomainError, UsageReport};
use crate::limits::{METERING_BATCH_MAX, UNITS_PER_REQUEST_MAX};
use axum::{
    extract::{FromRequest, FromRequestParts, Request, State},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use steward_events::{
    parse_fixed_decimal, Deployment, Endpoint, Feature, FeatureSet, Permission, ProjectId,
    RequestId, RequestMethod, UsageUnits,
};
use steward_projections::usage::RequestView;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(record_request))
        .routes(routes!(record_request_batch))
}

/// Seconds of audio as a JSON number or string with at most three decimals, parsed exactly.
#[derive(Clone, Copy, Debug)]
pub struct AudioSeconds(pub u64);

impl<'de> Deserialize<'de> for AudioSeconds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = decimal_text(deserializer)?;
        parse_fixed_decimal(&text, 3)
            .map(AudioSeconds)
            .ok_or_else(|| {
                serde::de::Error::custom(
                    "audio_seconds must be a non-negative number with at most 3 decimals",
                )
            })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitsInput {
    #[schema(value_type = Option<f64>)]
    pub audio_seconds: Option<AudioSeconds>,
    pub characters: Option<u64>,
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRequestBody {
    /// The paid API's own request id; the same id twice records once.
    #[schema(value_type = String, format = Uuid)]
    pub request_id: RequestId,
    /// `listen`, `read`, `speak` or `agent`.
    pub endpoint: String,
    /// `sync`, `async` or `streaming`.
    pub method: String,
    pub model: String,
    /// `hosted` (the default), `beta` or `self-hosted`.
    pub deployment: Option<String>,
    pub units: UnitsInput,
    /// The HTTP status the paid API answered; 400 and above costs nothing.
    pub code: u16,
    /// The request's own tags; the key's tags are added.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The features the request used, by Deepgram's names (`diarize`, `smart_format`, …: the
    /// boolean filters of `/usage`).
    #[serde(default)]
    pub features: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordRequestResponse {
    #[schema(value_type = String, format = Uuid)]
    pub request_id: RequestId,
    /// What the request cost, exact to the nano-dollar.
    #[schema(value_type = f64)]
    pub usd: Usd,
    pub code: u16,
    /// The key's tags and the request's own.
    pub tags: Vec<String>,
}

fn recorded_answer(request: &RequestView) -> RecordRequestResponse {
    RecordRequestResponse {
        request_id: request.request_id,
        usd: Usd(request.cost),
        code: request.status_code,
        tags: request.tags.iter().map(|t| t.as_str().to_owned()).collect(),
    }
}

fn parse_report(body: RecordRequestBody, state: &AppState) -> Result<UsageReport, ApiError> {
    let endpoint = Endpoint::parse(&body.endpoint).ok_or_else(|| {
        ApiError::invalid_request("endpoint must be listen, read, speak or agent.")
    })?;
    let method = RequestMethod::parse(&body.method)
        .ok_or_else(|| ApiError::invalid_request("method must be sync, async or streaming."))?;
    let deployment = match body.deployment.as_deref() {
        None => Deployment::Hosted,
        Some(name) => Deployment::parse(name).ok_or_else(|| {
            ApiError::invalid_request("deployment must be hosted, beta or self-hosted.")
        })?,
    };
    if !(100..=599).contains(&body.code) {
        return Err(ApiError::invalid_request(
            "code must be an HTTP status, 100 to 599.",
        ));
    }
    let units = UsageUnits {
        audio_milliseconds: body.units.audio_seconds.map_or(0, |seconds| seconds.0),
        characters: body.units.characters.unwrap_or(0),
        tokens_in: body.units.tokens_in.unwrap_or(0),
        tokens_out: body.units.tokens_out.unwrap_or(0),
    };
    let too_many = [
        units.audio_milliseconds / 1000,
        units.characters,
        units.tokens_in,
        units.tokens_out,
    ]
    .into_iter()
    .any(|count| count > UNITS_PER_REQUEST_MAX);
    if too_many {
        return Err(ApiError::invalid_request(format!(
            "A request reports at most {UNITS_PER_REQUEST_MAX} of each unit."
        )));
    }
    let cost = state.pricing.price(endpoint, &body.model, &units);
    let model = state
        .models
        .metered(&body.model)
        .map_err(|error| match error {
            DomainError::ModelNotFound => ApiError::invalid_request(format!(
                "model {:?} is not in the model catalog (GET /v1/models lists it).",
                body.model
            )),
            other => other.into(),
        })?;
    Ok(UsageReport {
        request_id: body.request_id,
        tags: parse_tags(&body.tags)?,
        endpoint,
        method,
        model,
        deployment,
        units,
        status_code: body.code,
        cost,
        features: parse_features(&body.features)?,
    })
}

/// Features by name; an unknown one is refused.
fn parse_features(names: &[String]) -> Result<FeatureSet, ApiError> {
    if names.len() > Feature::ALL.len() {
        return Err(ApiError::invalid_request(format!(
            "A request names at most {} features.",
            Feature::ALL.len()
        )));
    }
    names
        .iter()
        .map(|name| {
            Feature::parse(name).ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "{name:?} is not a feature (they are the boolean filters of /usage, such as \"diarize\")."
                ))
            })
        })
        .collect()
}

/// Records one request the paid API served, priced from the price table and paid from the
/// soonest-expiring credit. The same request id again answers the first result. Refused with
/// 402 when the project cannot pay, and 409 when it carries a tag new to a month whose
/// requests have carried `TAGS_PER_PROJECT_MONTH_MAX` tags; then nothing is recorded.
#[utoipa::path(post, path = "/v1/projects/{project_id}/requests", tag = "usage",
    params(("project_id" = String, Path, format = Uuid)), request_body = RecordRequestBody,
    responses((status = 200, body = RecordRequestResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 402, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn record_request(
    State(state): State<AppState>,
    Metering(principal): Metering,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiJson(body): ApiJson<RecordRequestBody>,
) -> ApiResult<Json<RecordRequestResponse>> {
    let report = parse_report(body, &state)?;
    let recorded = (state.steward)
        .record_usage(principal.actor(), project_id, report)
        .await?;
    Ok(Json(recorded_answer(&recorded)))
}

/// The route template of `record_request`, as the router matches it (and `/metrics` counts
/// it under), for the lean path.
pub const ROUTE: &str = "/v1/projects/{project_id}/requests";

/// `record_request` on the lean path (`http::split`): the extractors the route runs, in the
/// route's order (the caller's credentials, then the body), on a request whose path named
/// `project_id`.
pub async fn record_lean(state: AppState, project_id: ProjectId, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let principal = match Metering::from_request_parts(&mut parts, &state).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal.into_response(),
    };
    let request = Request::from_parts(parts, body);
    let body = match ApiJson::from_request(request, &state).await {
        Ok(body) => body,
        Err(refusal) => return refusal.into_response(),
    };
    record_request(State(state), principal, ApiPath(project_id), body)
        .await
        .into_response()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordBatchBody {
    /// Up to 1000 requests, each as `POST /v1/projects/{project_id}/requests` takes it.
    #[schema(value_type = Vec<RecordRequestBody>)]
    pub requests: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemError {
    pub category: &'static str,
    pub message: String,
    pub details: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemResult {
    /// The item's position in the batch, from 0.
    pub index: usize,
    /// The status this item would have had on its own.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<RecordRequestResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<BatchItemError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordBatchResponse {
    pub results: Vec<BatchItemResult>,
}

/// Records one item of a batch; its answer or its error.
async fn record_item(
    state: AppState,
    principal: Principal,
    project_id: ProjectId,
    item: serde_json::Value,
) -> Result<RecordRequestResponse, ApiError> {
    let body: RecordRequestBody =
        serde_json::from_value(item).map_err(|error| ApiError::invalid_json(error.to_string()))?;
    let report = parse_report(body, &state)?;
    let recorded = (state.steward)
        .record_usage(principal.actor(), project_id, report)
        .await?;
    Ok(recorded_answer(&recorded))
}

impl BatchItemResult {
    /// Item `index`'s answer, or its error as it would have been answered on its own.
    fn of(index: usize, outcome: Result<RecordRequestResponse, ApiError>) -> Self {
        match outcome {
            Ok(recorded) => Self {
                index,
                status: 200,
                recorded: Some(recorded),
                error: None,
            },
            Err(error) => {
                if let Some(internal) = &error.internal {
                    tracing::error!(cause = %internal, "a batch item failed");
                }
                Self {
                    index,
                    status: error.status.as_u16(),
                    recorded: None,
                    error: Some(BatchItemError {
                        category: error.category.code(),
                        message: error.message,
                        details: error.details,
                    }),
                }
            }
        }
    }
}

/// Records up to 1000 requests, each answered on its own: one bad or unpayable item refuses
/// only itself. The items reach the command processor together, so they share flushes.
#[utoipa::path(post, path = "/v1/projects/{project_id}/requests/batch", tag = "usage",
    params(("project_id" = String, Path, format = Uuid)), request_body = RecordBatchBody,
    responses((status = 200, body = RecordBatchResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn record_request_batch(
    State(state): State<AppState>,
    Metering(principal): Metering,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiJson(body): ApiJson<RecordBatchBody>,
) -> ApiResult<Json<RecordBatchResponse>> {
    if body.requests.is_empty() || body.requests.len() > METERING_BATCH_MAX {
        return Err(ApiError::invalid_request(format!(
            "A batch holds 1 to {METERING_BATCH_MAX} requests."
        )));
    }
    (state.steward).require(&principal, project_id, Permission::UsageWrite)?;
    let results = record_all(state, principal, project_id, body.requests).await?;
    Ok(Json(RecordBatchResponse { results }))
}

/// Records every item at once, so that they reach the command processor together; the
/// results in the items' order.
async fn record_all(
    state: AppState,
    principal: Principal,
    project_id: ProjectId,
    items: Vec<serde_json::Value>,
) -> ApiResult<Vec<BatchItemResult>> {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, item) in items.into_iter().enumerate() {
        let state = state.clone();
        tasks.spawn(async move { (index, record_item(state, principal, project_id, item).await) });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (index, outcome) = joined.map_err(ApiError::internal)?;
        results.push(BatchItemResult::of(index, outcome));
    }
    results.sort_by_key(|result| result.index);
    Ok(results)
}
