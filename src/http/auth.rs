//! Who is calling: an API key (`Token`), an account session or the operator (`Bearer`).

use super::error::Category;
use super::{error::ApiError, throttle::client_address, AppState};
pub use crate::access::{Principal, ProjectAccess};
use crate::secrets::hash_secret;
use axum::{
    extract::FromRequestParts,
    http::{request::Parts, HeaderMap, StatusCode},
};
use steward_events::AccountId;
use subtle::ConstantTimeEq;

/// The two forms of the `Authorization` header.
pub(super) enum Credentials<'a> {
    Token(&'a str),
    Bearer(&'a str),
}

pub(super) fn credentials(headers: &HeaderMap) -> Option<Credentials<'_>> {
    let header = headers.get(axum::http::header::AUTHORIZATION)?;
    let header = header.to_str().ok()?.trim();
    let (scheme, value) = header.split_once(' ')?;
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("token") {
        Some(Credentials::Token(value))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Credentials::Bearer(value))
    } else {
        None
    }
}

/// Whether a bearer token is a JWT (a grant token from `POST /v1/auth/grant`) rather than a
/// session or the operator's token.
pub(super) fn is_grant_token(token: &str) -> bool {
    token.split('.').count() == 3
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let address = client_address(parts, &state.settings.trusted_proxies);
        state.auth_failures.check(address)?;
        // The idempotency layer authenticated this request already when it carried a key.
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(*principal);
        }
        let principal = authenticate(parts, state).await;
        if matches!(&principal, Err(error) if error.status == StatusCode::UNAUTHORIZED) {
            state.failed_authentication(address);
        }
        principal
    }
}

pub(super) async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    {
        let now = state.steward.now();
        match credentials(&parts.headers).ok_or_else(ApiError::invalid_auth)? {
            Credentials::Token(secret) => {
                let hash = hash_secret(secret);
                state
                    .steward
                    .read(|projections| projections.keys.check(&hash, now))
                    .map(Principal::Key)
                    .map_err(|_| ApiError::invalid_auth())
            }
            Credentials::Bearer(token) => {
                if let Some(operator_token) = &state.settings.operator_token {
                    if bool::from(token.as_bytes().ct_eq(operator_token.as_bytes())) {
                        return Ok(Principal::Operator);
                    }
                }
                if is_grant_token(token) {
                    // A JWT: a grant token, which only the core voice APIs take.
                    return Err(ApiError::invalid_auth().with_details(
                        "Grant tokens are not accepted by the management API; use an API key.",
                    ));
                }
                let account_id = state
                    .sessions
                    .account(token, now)
                    .map_err(ApiError::from)?
                    .ok_or_else(ApiError::invalid_auth)?;
                let live = state.steward.read(|projections| {
                    projections
                        .membership
                        .accounts
                        .get(&account_id)
                        .is_some_and(|account| !account.deleted)
                });
                if live {
                    Ok(Principal::Account(account_id))
                } else {
                    Err(ApiError::invalid_auth())
                }
            }
        }
    }
}

/// The operator, or a refusal: for `/v1/operator/*`.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Principal::from_request_parts(parts, state).await? {
            Principal::Operator => Ok(Operator),
            _ => Err(ApiError::insufficient_permissions()),
        }
    }
}

/// A person with a session, or a refusal: for account-level actions.
pub struct Session(pub AccountId);

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Principal::from_request_parts(parts, state).await? {
            Principal::Account(account_id) => Ok(Session(account_id)),
            _ => Err(ApiError::new(
                Category::InsufficientPermissions,
                "Only an account session may do this.",
            )),
        }
    }
}

/// The raw bearer token of the request, for logout.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    match credentials(headers)? {
        Credentials::Bearer(token) => Some(token),
        Credentials::Token(_) => None,
    }
}

/// Whoever may record usage: anyone `Principal` takes, and also a grant token
/// (`Bearer <jwt>` from `POST /v1/auth/grant`), which acts as its key within the grant's
/// scopes. This is how the service behind a gateway records what a request that came with a
/// grant cost.
pub struct Metering(pub Principal);

impl FromRequestParts<AppState> for Metering {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let grant = match credentials(&parts.headers) {
            Some(Credentials::Bearer(token)) if is_grant_token(token) => token,
            _ => {
                return Principal::from_request_parts(parts, state)
                    .await
                    .map(Metering)
            }
        };
        let address = client_address(parts, &state.settings.trusted_proxies);
        state.auth_failures.check(address)?;
        match state.steward.check_grant(&state.grants, grant) {
            Ok(key) => Ok(Metering(Principal::Key(key))),
            Err(error) => {
                state.failed_authentication(address);
                Err(ApiError::invalid_auth().with_details(error.to_string()))
            }
        }
    }
}
