//! Accounts: signup, login, logout, accepting an invitation, deleting one's own account.

use super::error::Category;
use super::{
    auth::{bearer_token, Session},
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiJson,
    idempotency::ShownOnce,
    throttle::ClientAddress,
    AppState, HttpSettings, MessageResponse,
};
use crate::{
    accounts::{NewAccount, Password},
    domain::{Command, PersonName},
    secrets::hash_secret,
};
use axum::{extract::State, http::HeaderMap, Extension, Json};
use serde::{Deserialize, Serialize};
use steward_events::{AccountId, Actor, Email, Event, Nanodollars, ProjectId};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(accept_invitation))
        .routes(routes!(delete_account))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// 8 to 256 characters.
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupResponse {
    #[schema(value_type = String, format = Uuid)]
    pub account_id: AccountId,
    #[schema(value_type = String, format = Uuid)]
    pub project_id: ProjectId,
    /// Send as `Authorization: Bearer <session_token>`.
    pub session_token: String,
}

fn ensure_signup_open(settings: &HttpSettings) -> ApiResult<()> {
    if settings.open_signup {
        return Ok(());
    }
    Err(ApiError::new(
        Category::SignupClosed,
        "Signup is closed on this server; ask the operator for an account.",
    ))
}

impl SignupRequest {
    /// The account to register, with `promotional_credit` for its first project.
    fn new_account(self, promotional_credit: Option<Nanodollars>) -> ApiResult<NewAccount> {
        let email = parse_email(&self.email)?;
        let password = Password::parse(self.password).map_err(ApiError::invalid_request)?;
        let first_name = PersonName::parse(self.first_name)?;
        Ok(NewAccount {
            email,
            project_name: NewAccount::first_project_name(&first_name)?,
            first_name,
            last_name: PersonName::parse(self.last_name)?,
            password: Some(password),
            promotional_credit,
        })
    }
}

pub(super) fn parse_email(text: &str) -> Result<Email, ApiError> {
    Email::parse(text).map_err(|error| ApiError::invalid_request(format!("{error}.")))
}

/// Creates an account, its first project (owned by it) and any promotional credit.
#[utoipa::path(post, path = "/v1/signup", tag = "accounts", request_body = SignupRequest,
    security(()),
    responses(
        (status = 200, body = SignupResponse),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "signup is closed"),
        (status = 409, body = ErrorBody, description = "the email is taken"),
        (status = 429, body = ErrorBody, description = "too many sign-ups from this address, or passwords being checked"),
    ))]
async fn signup(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<SignupRequest>,
) -> ApiResult<(Extension<ShownOnce>, Json<SignupResponse>)> {
    ensure_signup_open(&state.settings)?;
    state.signups.take(address)?;
    let account = body.new_account(state.settings.promotional_credit)?;
    let registered = state.steward.register(Actor::System, account).await?;
    let session_token = (state.sessions)
        .start(registered.account_id, state.steward.now())
        .await?;
    Ok((
        Extension(ShownOnce(vec![session_token.clone()])),
        Json(SignupResponse {
            account_id: registered.account_id,
            project_id: registered.project_id,
            session_token,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub session_token: String,
}

/// Starts a session. A wrong email and a wrong password look the same.
#[utoipa::path(post, path = "/v1/login", tag = "accounts", request_body = LoginRequest,
    security(()),
    responses((status = 200, body = LoginResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<(Extension<ShownOnce>, Json<LoginResponse>)> {
    state.auth_failures.check(address)?;
    let account_id = state
        .steward
        .check_login(&body.email, body.password)
        .await?;
    let Some(account_id) = account_id else {
        state.failed_authentication(address);
        return Err(ApiError::invalid_auth());
    };
    let session_token = state
        .sessions
        .start(account_id, state.steward.now())
        .await?;
    Ok((
        Extension(ShownOnce(vec![session_token.clone()])),
        Json(LoginResponse { session_token }),
    ))
}

/// Ends the session the request is made with.
#[utoipa::path(post, path = "/v1/logout", tag = "accounts",
    responses((status = 200, body = MessageResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    _session: Session,
    headers: HeaderMap,
) -> ApiResult<Json<MessageResponse>> {
    let token = bearer_token(&headers).ok_or_else(ApiError::invalid_auth)?;
    state.sessions.end(token).await?;
    Ok(MessageResponse::new("Logged out."))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the invitation email.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptInvitationResponse {
    #[schema(value_type = String, format = Uuid)]
    pub project_id: ProjectId,
    pub message: String,
}

/// Joins the project of an invitation sent to the session's own email address.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "invitations",
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, body = AcceptInvitationResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "sent to another address"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody),
    ))]
async fn accept_invitation(
    State(state): State<AppState>,
    Session(account_id): Session,
    ApiJson(body): ApiJson<AcceptInvitationRequest>,
) -> ApiResult<Json<AcceptInvitationResponse>> {
    let token_hash = hash_secret(&body.token);
    let command = Command::AcceptInvitation { token_hash };
    let envelopes = (state.steward)
        .execute(Actor::Account(account_id), command)
        .await?;
    let project_id = envelopes
        .iter()
        .find_map(|envelope| match envelope.event {
            Event::InvitationAccepted { project_id, .. } => Some(project_id),
            _ => None,
        })
        .ok_or_else(|| ApiError::internal("an accepted invitation records its project"))?;
    Ok(Json(AcceptInvitationResponse {
        project_id,
        message: "Invitation accepted.".into(),
    }))
}

/// Deletes the session's own account: it leaves every project (a project it alone belongs to is
/// deleted) and every key it created stops working. Refused while it is the sole owner of a
/// project others belong to.
#[utoipa::path(delete, path = "/v1/account", tag = "accounts",
    responses((status = 200, body = MessageResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_account(
    State(state): State<AppState>,
    Session(account_id): Session,
) -> ApiResult<Json<MessageResponse>> {
    state
        .steward
        .execute(
            Actor::Account(account_id),
            Command::DeleteAccount { account_id },
        )
        .await?;
    Ok(MessageResponse::new("Account deleted."))
}
