//! Grant tokens on the wire: `POST /v1/auth/grant`, the public keys at
//! `GET /.well-known/jwks.json`, and the operator's rotation of the signing key.

use super::{
    auth::{Operator, Principal},
    error::{ApiError, ApiResult, ErrorBody},
    AppState,
};
use crate::{
    grants::{IssueError, JwkSet},
    limits::{GRANT_TTL_SECONDS_DEFAULT, GRANT_TTL_SECONDS_MAX},
};
use axum::{body::Bytes, extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(grant))
        .routes(routes!(jwks))
        .routes(routes!(rotate))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// How long the token lives, 1 to 3600 seconds (30 by default); a fraction rounds up.
    pub ttl_seconds: Option<f64>,
}

impl GrantRequest {
    /// The request in `body`, which may be empty.
    fn parse(body: &[u8]) -> ApiResult<Self> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        serde_json::from_slice(body).map_err(|error| ApiError::invalid_json(error.to_string()))
    }

    /// The TTL in whole seconds, refused outside 1 to `GRANT_TTL_SECONDS_MAX`.
    fn ttl_seconds(&self) -> ApiResult<i64> {
        let Some(ttl) = self.ttl_seconds else {
            return Ok(GRANT_TTL_SECONDS_DEFAULT);
        };
        if !(1.0..=GRANT_TTL_SECONDS_MAX as f64).contains(&ttl) {
            return Err(ApiError::invalid_request(format!(
                "ttl_seconds must be between 1 and {GRANT_TTL_SECONDS_MAX}."
            )));
        }
        Ok(ttl.ceil() as i64)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantResponse {
    /// A JWT (ES256) for the core voice APIs; the management API refuses it.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: f64,
}

/// A short-lived token bound to the key's project and usage scopes, for a client that must not
/// hold the key. Made with an API key holding at least member scopes.
#[utoipa::path(post, path = "/v1/auth/grant", tag = "auth", request_body = Option<GrantRequest>,
    responses((status = 200, body = GrantResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn grant(
    State(state): State<AppState>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Json<GrantResponse>> {
    let ttl_seconds = GrantRequest::parse(&body)?.ttl_seconds()?;
    let grant = (state.steward)
        .issue_grant(&principal, &state.grants, ttl_seconds)
        .map_err(|error| match error {
            IssueError::NotAMembersKey => ApiError::new(
                super::error::Category::InsufficientPermissions,
                "A grant is made with an API key holding at least member scopes.",
            ),
            IssueError::Signing(cause) => ApiError::internal(cause),
        })?;
    Ok(Json(GrantResponse {
        access_token: grant.access_token,
        expires_in: (grant.claims.exp - grant.claims.iat) as f64,
    }))
}

/// The public keys that verify grant tokens (RFC 7517), so that a gateway can check a grant
/// without calling Steward. It cannot see a key deleted since; Steward can.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth", security(()),
    responses((status = 200, body = JwkSet)))]
async fn jwks(State(state): State<AppState>) -> Json<JwkSet> {
    Json(state.grants.jwks(state.steward.now()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotateResponse {
    /// The new signing key's id; the previous keys keep verifying the grants they signed.
    pub kid: String,
}

/// Makes a new grant signing key; grants signed before stay valid until they expire.
#[utoipa::path(post, path = "/v1/operator/grant-keys/rotate", tag = "operator",
    responses((status = 200, body = RotateResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn rotate(State(state): State<AppState>, _: Operator) -> ApiResult<Json<RotateResponse>> {
    let kid = (state.grants)
        .rotate(state.steward.now())
        .map_err(ApiError::internal)?;
    Ok(Json(RotateResponse { kid }))
}
