//! The operator (`Authorization: Bearer <STEWARD_OPERATOR_TOKEN>`): the outbox, accounts, and
//! credit grants.

use super::{
    accounts::parse_email,
    auth::Operator,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiPath},
    query::parse_instant,
    usd::{Usd, UsdInput},
    AppState, MessageResponse,
};
use crate::{
    accounts::{NewAccount, Password},
    domain::{Command, PersonName, ProjectName, Reference},
    outbox::OutboxMessage,
};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use steward_events::{
    AccountId, Actor, CreditSource, Envelope, Event, GrantId, ProjectId, Timestamp,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(outbox))
        .routes(routes!(create_account))
        .routes(routes!(delete_account))
        .routes(routes!(grant_credits))
        .routes(routes!(projections))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionView {
    pub name: &'static str,
    /// The last log position the projection reflects.
    pub position: u64,
    /// SHA-256 of its state, as `steward rebuild` prints it.
    pub digest: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionsResponse {
    pub projections: Vec<ProjectionView>,
}

/// The live read models' positions and digests: equal to what `steward rebuild` prints for
/// the same log, or something is wrong.
#[utoipa::path(get, path = "/v1/operator/projections", tag = "operator",
    responses((status = 200, body = ProjectionsResponse)))]
async fn projections(
    State(state): State<AppState>,
    _: Operator,
) -> ApiResult<Json<ProjectionsResponse>> {
    let projections = state
        .steward
        .read(|projections| projections.summaries())
        .into_iter()
        .map(|summary| ProjectionView {
            name: summary.name,
            position: summary.position,
            digest: summary.digest,
        })
        .collect();
    Ok(Json(ProjectionsResponse { projections }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxResponse {
    pub messages: Vec<OutboxMessage>,
}

/// Invitation emails waiting for delivery, oldest first.
#[utoipa::path(get, path = "/v1/operator/outbox", tag = "operator",
    responses((status = 200, body = OutboxResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn outbox(State(state): State<AppState>, _: Operator) -> ApiResult<Json<OutboxResponse>> {
    let messages = (state.outbox)
        .list(state.steward.now())
        .map_err(ApiError::internal)?;
    Ok(Json(OutboxResponse { messages }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    /// Optional: without one the account cannot log in until it is given one.
    pub password: Option<String>,
    /// The first project's name; `My Project` when absent.
    pub project_name: Option<String>,
}

impl CreateAccountRequest {
    /// The account to register: no promotional credit, the operator grants credit explicitly.
    fn new_account(self) -> ApiResult<NewAccount> {
        let email = parse_email(&self.email)?;
        let password = self
            .password
            .map(Password::parse)
            .transpose()
            .map_err(ApiError::invalid_request)?;
        Ok(NewAccount {
            email,
            first_name: PersonName::parse(self.first_name)?,
            last_name: PersonName::parse(self.last_name)?,
            password,
            project_name: ProjectName::parse(
                self.project_name.unwrap_or_else(|| "My Project".into()),
            )?,
            promotional_credit: None,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreateAccountResponse {
    #[schema(value_type = String, format = Uuid)]
    pub account_id: AccountId,
    #[schema(value_type = String, format = Uuid)]
    pub project_id: ProjectId,
}

/// Creates an account and its first project, also when open signup is off. No promotional
/// credit: the operator grants credit explicitly.
#[utoipa::path(post, path = "/v1/operator/accounts", tag = "operator", request_body = CreateAccountRequest,
    responses((status = 200, body = CreateAccountResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_account(
    State(state): State<AppState>,
    _: Operator,
    ApiJson(body): ApiJson<CreateAccountRequest>,
) -> ApiResult<Json<CreateAccountResponse>> {
    let registered = (state.steward)
        .register(Actor::Operator, body.new_account()?)
        .await?;
    Ok(Json(CreateAccountResponse {
        account_id: registered.account_id,
        project_id: registered.project_id,
    }))
}

/// Deletes an account: it leaves every project and all its keys die.
#[utoipa::path(delete, path = "/v1/operator/accounts/{account_id}", tag = "operator",
    params(("account_id" = String, Path, format = Uuid)),
    responses((status = 200, body = MessageResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_account(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(account_id): ApiPath<AccountId>,
) -> ApiResult<Json<MessageResponse>> {
    state
        .steward
        .execute(Actor::Operator, Command::DeleteAccount { account_id })
        .await?;
    Ok(MessageResponse::new("Account deleted."))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantCreditsRequest {
    /// USD as a JSON number or a decimal string, at most 9 decimals; parsed exactly.
    #[schema(value_type = String, example = "250.5")]
    pub amount: UsdInput,
    /// Always `usd`.
    pub units: String,
    /// `promotional`, `contract` or `card`.
    pub source: String,
    /// Required for contract and promotional credit; card credit never expires.
    pub expires_at: Option<String>,
    /// A purchase order or contract number, shown as the balance's `reference`.
    pub reference: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantCreditsResponse {
    #[schema(value_type = String, format = Uuid)]
    pub balance_id: GrantId,
    #[schema(value_type = f64)]
    pub amount: Usd,
    pub units: &'static str,
    pub source: &'static str,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
}

impl GrantCreditsRequest {
    fn command(self, project_id: ProjectId, grant_id: GrantId) -> ApiResult<Command> {
        if self.units != "usd" {
            return Err(ApiError::invalid_request("units must be usd."));
        }
        let source = CreditSource::parse(&self.source).ok_or_else(|| {
            ApiError::invalid_request("source must be promotional, contract or card.")
        })?;
        let expires_at = self
            .expires_at
            .as_deref()
            .map(|text| {
                parse_instant(text, false).ok_or_else(|| {
                    ApiError::invalid_request("expires_at must be an RFC 3339 date or instant.")
                })
            })
            .transpose()?;
        Ok(Command::GrantCredits {
            project_id,
            grant_id,
            source,
            amount: self.amount.0,
            expires_at,
            reference: self.reference.map(Reference::parse).transpose()?,
        })
    }
}

impl GrantCreditsResponse {
    /// The answer to a grant recorded as `envelopes`.
    fn of(envelopes: &[Envelope]) -> ApiResult<Self> {
        envelopes
            .iter()
            .find_map(|envelope| match &envelope.event {
                Event::CreditsGranted {
                    grant_id,
                    source,
                    amount,
                    expires_at,
                    ..
                } => Some(Self {
                    balance_id: *grant_id,
                    amount: Usd(*amount),
                    units: "usd",
                    source: source.name(),
                    expires_at: *expires_at,
                }),
                _ => None,
            })
            .ok_or_else(|| ApiError::internal("a grant records CreditsGranted"))
    }
}

/// Grants credit to a project.
#[utoipa::path(post, path = "/v1/operator/projects/{project_id}/credits", tag = "operator",
    params(("project_id" = String, Path, format = Uuid)), request_body = GrantCreditsRequest,
    responses((status = 200, body = GrantCreditsResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn grant_credits(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiJson(body): ApiJson<GrantCreditsRequest>,
) -> ApiResult<Json<GrantCreditsResponse>> {
    let grant_id = GrantId::from_uuid(Uuid::now_v7());
    let command = body.command(project_id, grant_id)?;
    let envelopes = state.steward.execute(Actor::Operator, command).await?;
    Ok(Json(GrantCreditsResponse::of(&envelopes)?))
}
