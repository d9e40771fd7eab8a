//! What usage cost: the billing breakdown (JSON, or CSV with a total line) and the fields to
//! group it by. The queries are the usage read model's (`steward_projections::usage::report`).

use super::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiPath, ApiQuery},
    query::UsageParams,
    usage::{Resolution, WireDate, DAY_RESOLUTION},
    usd::Usd,
    AppState,
};
use axum::{
    extract::State,
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use std::collections::BTreeMap;
use steward_events::{Permission, ProjectId};
use steward_projections::usage::{
    query::{Period, TagCounting},
    report::{
        billing_csv_records, billing_lines, total_cost, BillingFields, BillingGrouping as Grouping,
        BillingLine, BILLING_CSV_HEADER,
    },
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(billing_breakdown))
        .routes(routes!(billing_fields))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillingGrouping {
    #[schema(value_type = String, format = Date)]
    pub start: WireDate,
    /// The period's last day.
    #[schema(value_type = String, format = Date)]
    pub end: WireDate,
    pub accessor: Option<String>,
    pub deployment: Option<String>,
    pub line_item: Option<String>,
    /// The line's tag when grouped by tag (null for untagged requests); null otherwise.
    pub tags: Option<Vec<String>>,
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
    #[schema(value_type = String, format = Date)]
    pub start: WireDate,
    /// The period's last day.
    #[schema(value_type = String, format = Date)]
    pub end: WireDate,
    pub resolution: Resolution,
    pub results: Vec<BillingBreakdownResult>,
}

impl BillingBreakdownResponse {
    fn of(period: Period, groupings: &[Grouping], lines: &[BillingLine]) -> Self {
        let value =
            |line: &BillingLine, grouping| line.value(groupings, grouping).map(str::to_owned);
        let result = |line: &BillingLine| BillingBreakdownResult {
            dollars: Usd(line.cost),
            grouping: BillingGrouping {
                start: WireDate::start_of(period),
                end: WireDate::end_of(period),
                accessor: value(line, Grouping::Accessor),
                deployment: value(line, Grouping::Deployment),
                line_item: value(line, Grouping::LineItem),
                tags: value(line, Grouping::Tags).map(|tag| vec![tag]),
            },
        };
        Self {
            start: WireDate::start_of(period),
            end: WireDate::end_of(period),
            resolution: DAY_RESOLUTION,
            results: lines.iter().map(result).collect(),
        }
    }
}

fn wants_csv(params: &UsageParams, headers: &HeaderMap) -> bool {
    params.csv
        || headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv"))
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
    headers: HeaderMap,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let params = UsageParams::parse(pairs, &state.models)?;
    if wants_csv(&params, &headers) {
        let csv = billing_breakdown_csv(&state, &principal, project_id, &params).await?;
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response());
    }
    let groupings = params.groupings(Grouping::parse)?;
    let counting = TagCounting::per_tag_if(groupings.contains(&Grouping::Tags));
    let query = params.usage_query(state.steward.now(), counting);
    let period = query.period;
    let rows = (state.steward)
        .usage_rows(&principal, project_id, query, Permission::BillingRead)
        .await?;
    let lines = billing_lines(&rows, &groupings);
    Ok(Json(BillingBreakdownResponse::of(period, &groupings, &lines)).into_response())
}

/// The billing breakdown `params` ask for, as CSV with a total line: the API's answer to
/// `format=csv`, and the console's "Download CSV".
pub(crate) async fn billing_breakdown_csv(
    state: &AppState,
    principal: &Principal,
    project_id: ProjectId,
    params: &UsageParams,
) -> ApiResult<String> {
    let groupings = params.groupings(Grouping::parse)?;
    let counting = TagCounting::per_tag_if(groupings.contains(&Grouping::Tags));
    let now = state.steward.now();
    let rows = |counting| {
        let query = params.usage_query(now, counting);
        (state.steward).usage_rows(principal, project_id, query, Permission::BillingRead)
    };
    let period = params.usage_query(now, counting).period;
    let selected = rows(counting).await?;
    let lines = billing_lines(&selected, &groupings);
    // The total line counts each request once, whatever its tags.
    let total = match counting {
        TagCounting::PerTag => total_cost(&rows(TagCounting::Once).await?),
        TagCounting::Once => total_cost(&selected),
    };
    billing_csv(billing_csv_records(period, &groupings, &lines, total))
}

/// The CSV text of a breakdown's records, under its header.
fn billing_csv(records: Vec<[String; 8]>) -> ApiResult<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(BILLING_CSV_HEADER)
        .map_err(ApiError::internal)?;
    for record in records {
        writer.write_record(&record).map_err(ApiError::internal)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| ApiError::internal(error.into_error()))?;
    String::from_utf8(bytes).map_err(ApiError::internal)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillingFieldsResponse {
    pub accessors: Vec<String>,
    pub deployments: Vec<String>,
    pub tags: Vec<String>,
    /// Line item code → label.
    pub line_items: BTreeMap<String, String>,
}

impl From<BillingFields> for BillingFieldsResponse {
    fn from(fields: BillingFields) -> Self {
        Self {
            accessors: fields.accessors.into_iter().collect(),
            deployments: fields.deployments.into_iter().map(str::to_owned).collect(),
            tags: fields.tags.into_iter().collect(),
            line_items: fields.line_items,
        }
    }
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
    let query = UsageParams::parse(pairs, &state.models)?
        .usage_query(state.steward.now(), TagCounting::PerTag);
    let rows = (state.steward)
        .usage_rows(&principal, project_id, query, Permission::BillingRead)
        .await?;
    Ok(Json(BillingFields::of(&rows).into()))
}
