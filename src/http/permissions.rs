//! Why not? `GET /v1/projects/{project_id}/keys/{key_id}/permissions` explains what a key may
//! do and, for each scope it was given but cannot use, why; `GET /v1/auth/whoami` answers the
//! same for the calling credential (a key, even one that no longer works: its holder may learn
//! why), or who a session or grant is.

use super::{
    auth::{credentials, is_grant_token, Credentials, Principal},
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiPath,
    throttle::ClientAddress,
    AppState,
};
use crate::{reads::KeyPermissions, secrets::hash_secret};
use axum::{extract::State, http::HeaderMap, Json};
use serde::Serialize;
use steward_events::{AccountId, KeyId, ProjectId};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(key_permissions))
        .routes(routes!(whoami))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatorView {
    #[schema(value_type = String, format = Uuid)]
    pub member_id: AccountId,
    pub email: String,
}

/// The member the key acts as: its creator unless it was handed over.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerView {
    #[schema(value_type = String, format = Uuid)]
    pub member_id: AccountId,
    pub email: String,
    /// The owner's current role in the project; null once they are gone from it.
    pub scope: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MissingScope {
    pub scope: String,
    /// `creator_role` (the owner's role lacks it), `expired`, `deleted`, `creator_left` (the
    /// owner left), `creator_deleted`, `project_deleted` or `rotated`.
    pub reason: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyPermissionsResponse {
    #[schema(value_type = String, format = Uuid)]
    pub api_key_id: KeyId,
    #[schema(value_type = String, format = Uuid)]
    pub project_id: ProjectId,
    /// The scopes the key was created with.
    pub scopes: Vec<String>,
    pub creator: CreatorView,
    pub owner: OwnerView,
    /// What the key may do now: its scopes within its owner's current role, as permissions.
    pub effective_scopes: Vec<String>,
    /// Each scope the key was given and cannot use, and why.
    pub missing: Vec<MissingScope>,
}

impl From<KeyPermissions> for KeyPermissionsResponse {
    fn from(key: KeyPermissions) -> Self {
        Self {
            api_key_id: key.key_id,
            project_id: key.project_id,
            scopes: key
                .scopes
                .iter()
                .map(|scope| scope.name().to_owned())
                .collect(),
            creator: CreatorView {
                member_id: key.creator,
                email: key.creator_email,
            },
            owner: OwnerView {
                member_id: key.owner,
                email: key.owner_email,
                scope: key.owner_role.map(|role| role.name().to_owned()),
            },
            effective_scopes: (key.effective.iter())
                .map(|permission| permission.name().to_owned())
                .collect(),
            missing: (key.missing.iter())
                .map(|shortfall| MissingScope {
                    scope: shortfall.scope.name().to_owned(),
                    reason: shortfall.reason,
                })
                .collect(),
        }
    }
}

/// What a key may do, and why not more.
#[utoipa::path(get, path = "/v1/projects/{project_id}/keys/{key_id}/permissions", tag = "keys",
    params(("project_id" = String, Path, format = Uuid), ("key_id" = String, Path, format = Uuid)),
    responses((status = 200, body = KeyPermissionsResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn key_permissions(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, key_id)): ApiPath<(ProjectId, KeyId)>,
) -> ApiResult<Json<KeyPermissionsResponse>> {
    let key = (state.steward).key_permissions(&principal, project_id, key_id)?;
    Ok(Json(key.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WhoamiResponse {
    /// `key`, `session`, `grant` or `operator`.
    pub kind: &'static str,
    /// For a session: the person.
    #[schema(value_type = Option<String>, format = Uuid)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountId>,
    /// For a key (or the key behind a grant): what it may do and why not more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyPermissionsResponse>,
}

/// Who the calling credential is: a key (working or not, with what it may do and why not
/// more), a grant token (its key, within the grant's scopes), a session, or the operator.
#[utoipa::path(get, path = "/v1/auth/whoami", tag = "accounts",
    responses((status = 200, body = WhoamiResponse), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn whoami(
    State(state): State<AppState>,
    address: ClientAddress,
    headers: HeaderMap,
) -> ApiResult<Json<WhoamiResponse>> {
    state.auth_failures.check(address.0)?;
    let refused = || {
        state.failed_authentication(address.0);
        ApiError::invalid_auth()
    };
    match credentials(&headers).ok_or_else(refused)? {
        Credentials::Token(secret) => {
            let key =
                (state.steward.own_key_permissions(&hash_secret(secret))).ok_or_else(refused)?;
            return Ok(Json(WhoamiResponse {
                kind: "key",
                account_id: None,
                key: Some(key.into()),
            }));
        }
        Credentials::Bearer(token) if is_grant_token(token) => {
            let valid = (state.steward.check_grant(&state.grants, token)).map_err(|_| refused())?;
            let mut key: KeyPermissionsResponse =
                (state.steward.held_key_permissions(valid.key_id))
                    .ok_or_else(refused)?
                    .into();
            key.effective_scopes = (valid.permissions.iter())
                .map(|permission| permission.name().to_owned())
                .collect();
            return Ok(Json(WhoamiResponse {
                kind: "grant",
                account_id: None,
                key: Some(key),
            }));
        }
        Credentials::Bearer(_) => {}
    }
    // A session or the operator: the API's own authentication.
    let mut parts = axum::http::Request::new(()).into_parts().0;
    parts.headers = headers;
    match super::auth::authenticate(&parts, &state).await {
        Ok(Principal::Operator) => Ok(Json(WhoamiResponse {
            kind: "operator",
            account_id: None,
            key: None,
        })),
        Ok(Principal::Account(account_id)) => Ok(Json(WhoamiResponse {
            kind: "session",
            account_id: Some(account_id),
            key: None,
        })),
        Ok(Principal::Key(_)) | Err(_) => Err(refused()),
    }
}
