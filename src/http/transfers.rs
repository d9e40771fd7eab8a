//! Transfers of credit between projects: by the operator, or by a person holding billing:write
//! in both. Portions leave in spending order and arrive keeping their expiry; both sides move in
//! one atomic append, and both projects' audit logs show it.

use super::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiJson,
    usd::{Usd, UsdInput},
    AppState,
};
use crate::domain::{Command, TransferAmount};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use steward_events::{
    Envelope, Event, GrantId, Nanodollars, ProjectId, Timestamp, TransferId, TransferPortion,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(transfer))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    #[schema(value_type = String, format = Uuid)]
    pub from_project_id: ProjectId,
    #[schema(value_type = String, format = Uuid)]
    pub to_project_id: ProjectId,
    /// USD to move, as a JSON number or decimal string: taken in spending order, or, with
    /// `balance_id`, from that balance.
    #[schema(value_type = Option<String>, example = "25")]
    pub amount: Option<UsdInput>,
    /// Move from this balance: all that is left of it, or `amount` of it.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub balance_id: Option<GrantId>,
    /// Always `usd`.
    pub units: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferredPortion {
    /// The balance in the source project it left.
    #[schema(value_type = String, format = Uuid)]
    pub from_balance_id: GrantId,
    /// The new balance in the receiving project.
    #[schema(value_type = String, format = Uuid)]
    pub to_balance_id: GrantId,
    #[schema(value_type = f64)]
    pub amount: Usd,
    /// `promotional`, `contract` or `card`.
    pub source: &'static str,
    /// Kept from the source balance.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expiration: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResponse {
    #[schema(value_type = String, format = Uuid)]
    pub transfer_id: TransferId,
    #[schema(value_type = f64)]
    pub amount: Usd,
    pub units: &'static str,
    pub portions: Vec<TransferredPortion>,
}

impl TransferRequest {
    fn command(self, transfer_id: TransferId) -> ApiResult<Command> {
        if self.units != "usd" {
            return Err(ApiError::invalid_request("units must be usd."));
        }
        let amount = match (self.amount, self.balance_id) {
            (Some(amount), None) => TransferAmount::Amount(amount.0),
            (None, Some(balance_id)) => TransferAmount::WholeGrant(balance_id),
            (Some(amount), Some(balance_id)) => TransferAmount::PartOfGrant(balance_id, amount.0),
            (None, None) => {
                return Err(ApiError::invalid_request(
                    "Give amount, balance_id, or both (part of that balance).",
                ))
            }
        };
        Ok(Command::TransferCredits {
            transfer_id,
            from_project_id: self.from_project_id,
            to_project_id: self.to_project_id,
            amount,
        })
    }
}

impl TransferResponse {
    /// The answer to a transfer recorded as `envelopes`: what arrived, portion by portion.
    fn of(transfer_id: TransferId, envelopes: &[Envelope]) -> ApiResult<Self> {
        let portions = envelopes
            .iter()
            .find_map(|envelope| match &envelope.event {
                Event::CreditsTransferredIn { portions, .. } => Some(portions),
                _ => None,
            })
            .ok_or_else(|| ApiError::internal("a transfer records its receiving side"))?;
        let total: Nanodollars = portions.iter().map(|portion| portion.amount).sum();
        let portion = |portion: &TransferPortion| TransferredPortion {
            from_balance_id: portion.from_grant_id,
            to_balance_id: portion.to_grant_id,
            amount: Usd(portion.amount),
            source: portion.source.name(),
            expiration: portion.expires_at,
        };
        Ok(Self {
            transfer_id,
            amount: Usd(total),
            units: "usd",
            portions: portions.iter().map(portion).collect(),
        })
    }
}

/// Moves credit from one project to another.
#[utoipa::path(post, path = "/v1/transfers", tag = "billing", request_body = TransferRequest,
    responses((status = 200, body = TransferResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "the source lacks the amount"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn transfer(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<TransferRequest>,
) -> ApiResult<Json<TransferResponse>> {
    let transfer_id = TransferId::from_uuid(Uuid::now_v7());
    let command = body.command(transfer_id)?;
    let envelopes = state.steward.execute(principal.actor(), command).await?;
    Ok(Json(TransferResponse::of(transfer_id, &envelopes)?))
}
