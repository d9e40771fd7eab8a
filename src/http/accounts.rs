//! Accounts: signup, login, logout, accepting an invitation, deleting one's own account.

use super::{
    auth::{bearer_token, Session},
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiJson,
    idempotency::ShownOnce,
    throttle::ClientAddress,
    AppState, MessageResponse,
};
use crate::{domain::Command, passwords, secrets::hash_secret};
use axum::{extract::State, http::HeaderMap, Extension, Json};
use serde::{Deserialize, Serialize};
use steward_events::{AccountId, Actor, Email, Event, GrantId, ProjectId};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

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
    ))]
async fn signup(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SignupRequest>,
) -> ApiResult<(Extension<ShownOnce>, Json<SignupResponse>)> {
    if !state.settings.open_signup {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "SIGNUP_CLOSED",
            "Signup is closed on this server; ask the operator for an account.",
        ));
    }
    let email = parse_email(&body.email)?;
    if !passwords::acceptable(&body.password) {
        return Err(ApiError::invalid_request(
            "Password must be 8 to 256 characters.",
        ));
    }
    let password_hash = passwords::hash(body.password).await;
    let account_id = AccountId::from_uuid(Uuid::now_v7());
    let project_id = ProjectId::from_uuid(Uuid::now_v7());
    let promotional_credit = state
        .settings
        .promotional_credit
        .filter(|amount| amount.is_positive())
        .map(|amount| (GrantId::from_uuid(Uuid::now_v7()), amount));
    let project_name = match body.first_name.trim() {
        "" => "My Project".to_owned(),
        first_name => format!("{first_name}'s Project"),
    };
    state
        .steward
        .execute(
            Actor::System,
            Command::RegisterAccount {
                account_id,
                email,
                first_name: body.first_name,
                last_name: body.last_name,
                password_hash: Some(password_hash),
                project_id,
                project_name,
                promotional_credit,
            },
        )
        .await?;
    let session_token = state
        .sessions
        .start(account_id, state.steward.now())
        .await?;
    Ok((
        Extension(ShownOnce(vec![session_token.clone()])),
        Json(SignupResponse {
            account_id,
            project_id,
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
    let account = Email::parse(&body.email).ok().and_then(|email| {
        state.steward.read(|projections| {
            projections
                .membership
                .account_by_email(&email)
                .and_then(|(account_id, account)| {
                    account
                        .password_hash
                        .clone()
                        .map(|password_hash| (account_id, password_hash))
                })
        })
    });
    let (account_id, password_hash) = match account {
        Some((account_id, password_hash)) => (Some(account_id), password_hash),
        None => (None, passwords::decoy_hash().to_owned()),
    };
    let matches = passwords::verify(body.password, password_hash).await;
    let Some(account_id) = account_id.filter(|_| matches) else {
        state.auth_failures.record(address);
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
    let envelopes = state
        .steward
        .execute(
            Actor::Account(account_id),
            Command::AcceptInvitation {
                token_hash: hash_secret(&body.token),
            },
        )
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
