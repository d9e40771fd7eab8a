//! Per-tag budgets: what the requests carrying one of the project's tags may cost each UTC
//! month, and each tag's month-to-date spend. A hard budget refuses the metered request that
//! would pass it (402); a soft one records it and, the first time in a month, that it passed.

use super::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiPath, ApiQuery},
    usd::{Usd, UsdInput},
    AppState, MessageResponse,
};
use crate::{
    domain::{Command, TagBudget},
    reads::TagMonth,
};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use steward_events::{ProjectId, Tag, Timestamp};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Tags listed on one page at most.
pub const TAGS_PAGE_MAX: usize = 1000;
const TAGS_PAGE_DEFAULT: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tags))
        .routes(routes!(get_budget, set_budget, remove_budget))
}

fn tag_in_path(text: &str) -> Result<Tag, ApiError> {
    Tag::parse(text).map_err(|error| ApiError::invalid_path(format!("tag {text:?}: {error}")))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetView {
    #[schema(value_type = f64)]
    pub monthly_usd: Usd,
    pub hard: bool,
    #[schema(value_type = String, format = DateTime)]
    pub set_at: Timestamp,
    /// Whether the budget was passed this month (a soft budget; a hard one is never passed).
    pub passed_this_month: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TagView {
    pub tag: String,
    /// What the requests carrying the tag cost this month so far.
    #[schema(value_type = f64)]
    pub spent_usd: Usd,
    pub budget: Option<BudgetView>,
}

impl TagView {
    fn of(line: TagMonth, month_start: Timestamp) -> Self {
        Self {
            tag: line.tag.to_string(),
            spent_usd: Usd(line.spent),
            budget: line.budget.map(|budget| BudgetView {
                monthly_usd: Usd(budget.monthly),
                hard: budget.hard,
                set_at: budget.set_at,
                passed_this_month: budget.was_passed_in(month_start),
            }),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TagsQuery {
    /// At most this many tags (1 to 1000; 100 when absent).
    pub limit: Option<usize>,
    /// List the tags after this one (the `next_after` of the page before).
    pub after: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListTagsResponse {
    /// The start of the UTC month the spend is for.
    #[schema(value_type = String, format = DateTime)]
    pub month_start: Timestamp,
    pub tags: Vec<TagView>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// The tags used this month or holding a budget, in tag order: each one's month-to-date spend
/// and budget. Needs billing:read.
#[utoipa::path(get, path = "/v1/projects/{project_id}/tags", tag = "budgets",
    params(("project_id" = String, Path, format = Uuid), TagsQuery),
    responses((status = 200, body = ListTagsResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list_tags(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(query): ApiQuery<TagsQuery>,
) -> ApiResult<Json<ListTagsResponse>> {
    let limit = query.limit.unwrap_or(TAGS_PAGE_DEFAULT);
    if !(1..=TAGS_PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid_query(format!(
            "limit must be 1 to {TAGS_PAGE_MAX}"
        )));
    }
    let after = (query.after.as_deref())
        .map(|text| {
            Tag::parse(text).map_err(|error| ApiError::invalid_query(format!("after: {error}")))
        })
        .transpose()?;
    let page = (state.steward).tags_this_month(&principal, project_id, after.as_ref(), limit)?;
    Ok(Json(ListTagsResponse {
        month_start: page.month_start,
        tags: (page.tags.into_iter())
            .map(|line| TagView::of(line, page.month_start))
            .collect(),
        next_after: page.next_after.map(|tag| tag.to_string()),
    }))
}

/// One tag's budget and month-to-date spend; a tag without a budget is not found.
#[utoipa::path(get, path = "/v1/projects/{project_id}/tags/{tag}/budget", tag = "budgets",
    params(("project_id" = String, Path, format = Uuid), ("tag" = String, Path)),
    responses((status = 200, body = TagView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_budget(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, tag)): ApiPath<(ProjectId, String)>,
) -> ApiResult<Json<TagView>> {
    let tag = tag_in_path(&tag)?;
    let line = state.steward.tag_budget(&principal, project_id, &tag)?;
    Ok(Json(TagView::of(line, state.steward.now().month_start())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetBudgetRequest {
    /// What the tag's requests may cost each UTC month, 0 to 1000000000 USD.
    #[schema(value_type = f64)]
    pub monthly_usd: UsdInput,
    /// Refuse the request that would pass it (402); else record it, and that it passed.
    pub hard: bool,
}

/// Sets the tag's monthly budget (billing:write). It holds from the next request on, against
/// what the tag's requests already cost this month.
#[utoipa::path(put, path = "/v1/projects/{project_id}/tags/{tag}/budget", tag = "budgets",
    params(("project_id" = String, Path, format = Uuid), ("tag" = String, Path)),
    request_body = SetBudgetRequest,
    responses((status = 200, body = TagView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn set_budget(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, tag)): ApiPath<(ProjectId, String)>,
    ApiJson(body): ApiJson<SetBudgetRequest>,
) -> ApiResult<Json<TagView>> {
    let tag = tag_in_path(&tag)?;
    let budget = TagBudget {
        monthly: body.monthly_usd.0,
        hard: body.hard,
    };
    let command = Command::SetTagBudget {
        project_id,
        tag: tag.clone(),
        budget: Some(budget),
    };
    state.steward.execute(principal.actor(), command).await?;
    get_budget(
        State(state),
        principal,
        ApiPath((project_id, tag.to_string())),
    )
    .await
}

/// Removes the tag's budget (billing:write).
#[utoipa::path(delete, path = "/v1/projects/{project_id}/tags/{tag}/budget", tag = "budgets",
    params(("project_id" = String, Path, format = Uuid), ("tag" = String, Path)),
    responses((status = 200, body = MessageResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn remove_budget(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, tag)): ApiPath<(ProjectId, String)>,
) -> ApiResult<Json<MessageResponse>> {
    let tag = tag_in_path(&tag)?;
    let command = Command::SetTagBudget {
        project_id,
        tag,
        budget: None,
    };
    state.steward.execute(principal.actor(), command).await?;
    Ok(MessageResponse::new("Budget removed."))
}
