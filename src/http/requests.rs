//! The request log: a project's recorded requests, newest first, and one by id. Read through
//! `Steward::requests` and `Steward::request`, which read the log outside the read lock.

use super::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiPath, ApiQuery},
    query::{check_skip, UsageParams},
    usd::Usd,
    AppState,
};
use crate::limits::REQUESTS_PAGE_MAX;
use crate::models::ModelCatalog;
use crate::reads::Page;
use axum::{extract::State, Json};
use serde::Serialize;
use steward_events::{Feature, KeyId, ProjectId, RequestId, Timestamp};
use steward_projections::usage::RequestView;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

const DEFAULT_REQUESTS_PAGE: usize = 10;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests))
        .routes(routes!(get_request))
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
    /// The model's uuid in the catalog (derived from its name if it left the catalog).
    #[schema(value_type = Vec<String>)]
    pub models: Vec<String>,
    /// The features the request used, by Deepgram's names.
    pub features: Vec<&'static str>,
    /// The request's options as far as Steward knows them: its model.
    pub config: RequestConfig,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RequestConfig {
    pub model: String,
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
    /// The callback URL the request named; absent when it named none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
}

impl RequestItem {
    pub fn of(project_id: ProjectId, request: &RequestView, models: &ModelCatalog) -> Self {
        Self {
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
                    models: vec![models.model_id_of(&request.model).to_string()],
                    features: request.features.iter().map(Feature::name).collect(),
                    config: RequestConfig {
                        model: request.model.clone(),
                    },
                },
            },
            code: request.status_code,
            deployment: request.deployment.name(),
            callback: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListRequestsResponse {
    pub page: usize,
    pub limit: usize,
    pub requests: Vec<RequestItem>,
    /// Pass as `cursor` for the next (older) page; absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The page a request-log query asks for.
fn page_of(params: &UsageParams) -> Result<Page, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_REQUESTS_PAGE);
    if !(1..=REQUESTS_PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid_query(format!(
            "limit must be 1 to {REQUESTS_PAGE_MAX}"
        )));
    }
    let page = params.page.unwrap_or(0);
    check_skip(page, limit)?;
    Ok(Page {
        limit,
        page,
        before: params.cursor,
    })
}

/// The request log, newest first, paginated and filterable.
#[utoipa::path(get, path = "/v1/projects/{project_id}/requests", tag = "usage",
    params(("project_id" = String, Path, format = Uuid),
        ("start" = Option<String>, Query), ("end" = Option<String>, Query),
        ("limit" = Option<usize>, Query, description = "1 to 1000; 10 by default"),
        ("page" = Option<usize>, Query, description = "from 0; page × limit at most 10000"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("accessor" = Option<String>, Query), ("request_id" = Option<String>, Query),
        ("deployment" = Option<String>, Query), ("endpoint" = Option<String>, Query),
        ("method" = Option<String>, Query), ("status" = Option<String>, Query, description = "succeeded or failed"),
        ("tag" = Option<Vec<String>>, Query, description = "requests carrying every tag given"),
        ("model" = Option<String>, Query)),
    responses((status = 200, body = ListRequestsResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_requests(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Json<ListRequestsResponse>> {
    let params = UsageParams::parse(pairs, &state.models)?;
    let page = page_of(&params)?;
    let requests = (state.steward)
        .requests(&principal, project_id, params.request_filter(), page)
        .await?;
    Ok(Json(ListRequestsResponse {
        page: page.page,
        limit: page.limit,
        requests: requests
            .items
            .iter()
            .map(|request| RequestItem::of(project_id, request, &state.models))
            .collect(),
        next_cursor: requests.next.map(|position| position.to_string()),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GetRequestResponse {
    pub request: RequestItem,
    /// The same request's fields at the top, as older Deepgram clients read them.
    #[serde(flatten)]
    pub top: RequestItem,
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
    let request = (state.steward)
        .request(&principal, project_id, request_id)?
        .ok_or_else(|| ApiError::not_found("Request"))?;
    Ok(Json(GetRequestResponse {
        request: RequestItem::of(project_id, &request, &state.models),
        top: RequestItem::of(project_id, &request, &state.models),
    }))
}
