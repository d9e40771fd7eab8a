//! Balances (each grant's unexpired remainder) and purchases (each grant as an order).

use super::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiPath, ApiQuery},
    query::parse_instant,
    usd::Usd,
    AppState,
};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use steward_events::{GrantId, ProjectId, Timestamp};
use steward_projections::credits::GrantView;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_balances))
        .routes(routes!(get_balance))
        .routes(routes!(list_purchases))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    #[schema(value_type = String, format = Uuid)]
    pub balance_id: GrantId,
    /// What is left, in USD, exact to the nano-dollar.
    #[schema(value_type = f64)]
    pub amount: Usd,
    pub units: &'static str,
    /// The purchase the credit came from: its `order_id` in `/purchases` (a UUID).
    #[schema(value_type = String, format = Uuid)]
    pub purchase_order_id: GrantId,
    /// The operator's reference (purchase order, contract, card charge), when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Where the credit came from: `promotional`, `contract` or `card`.
    pub source: &'static str,
    /// When it expires; absent for card credit, which never does.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Timestamp>,
}

fn balance_view(grant_id: GrantId, grant: &GrantView) -> BalanceView {
    BalanceView {
        balance_id: grant_id,
        amount: Usd(grant.remaining),
        units: "usd",
        purchase_order_id: grant_id,
        reference: grant.reference.clone(),
        source: grant.source.name(),
        expiration: grant.expires_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListBalancesResponse {
    pub balances: Vec<BalanceView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BalancesQuery {
    /// The instant to take expiry at (a date or RFC 3339 instant); now when absent.
    pub as_of: Option<String>,
}

/// The project's balances not expired at `as_of` (now by default), soonest-expiring first as
/// they are spent.
#[utoipa::path(get, path = "/v1/projects/{project_id}/balances", tag = "billing",
    params(("project_id" = String, Path, format = Uuid), BalancesQuery),
    responses((status = 200, body = ListBalancesResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_balances(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(query): ApiQuery<BalancesQuery>,
) -> ApiResult<Json<ListBalancesResponse>> {
    let as_of = match query.as_of.as_deref() {
        Some(text) => parse_instant(text, false)
            .ok_or_else(|| ApiError::invalid_query(format!("as_of={text:?} is not a date")))?,
        None => state.steward.now(),
    };
    let balances = state.steward.balances(&principal, project_id, as_of)?;
    let balances = balances
        .iter()
        .map(|(grant_id, grant)| balance_view(*grant_id, grant))
        .collect();
    Ok(Json(ListBalancesResponse { balances }))
}

/// One balance; an expired one is not found.
#[utoipa::path(get, path = "/v1/projects/{project_id}/balances/{balance_id}", tag = "billing",
    params(("project_id" = String, Path, format = Uuid), ("balance_id" = String, Path, format = Uuid)),
    responses((status = 200, body = BalanceView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_balance(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, grant_id)): ApiPath<(ProjectId, GrantId)>,
) -> ApiResult<Json<BalanceView>> {
    let now = state.steward.now();
    let grant = (state.steward).balance(&principal, project_id, grant_id, now)?;
    Ok(Json(balance_view(grant_id, &grant)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    #[schema(value_type = String, format = Uuid)]
    pub order_id: GrantId,
    /// When it expires; absent for card credit, which never does.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
    /// The amount granted (or, for a transfer, received), in USD.
    #[schema(value_type = f64)]
    pub amount: Usd,
    pub units: &'static str,
    /// `promotional`, `contract` or `card`.
    pub order_type: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListPurchasesResponse {
    pub orders: Vec<OrderView>,
}

/// Every grant the project received, as an order, oldest first.
#[utoipa::path(get, path = "/v1/projects/{project_id}/purchases", tag = "billing",
    params(("project_id" = String, Path, format = Uuid)),
    responses((status = 200, body = ListPurchasesResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_purchases(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
) -> ApiResult<Json<ListPurchasesResponse>> {
    let orders = state.steward.orders(&principal, project_id)?;
    let orders = orders
        .into_iter()
        .map(|(grant_id, grant)| OrderView {
            order_id: grant_id,
            expiration: grant.expires_at,
            created: grant.created_at,
            amount: Usd(grant.original),
            units: "usd",
            order_type: grant.source.name(),
        })
        .collect();
    Ok(Json(ListPurchasesResponse { orders }))
}
