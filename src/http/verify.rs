//! Forward authentication for a gateway in front of the business's own API: nginx's
//! `auth_request`, Traefik's `ForwardAuth` and Envoy's HTTP `ext_authz` ask
//! `GET /v1/auth/verify` (or `POST`, body ignored) with the original request's headers, and
//! pass the request on when it answers 200, with the `X-Steward-*` headers it sets.
//!
//! The original URI comes from `X-Original-URI` (nginx), `X-Forwarded-Uri` (Traefik), or the
//! path after `/v1/auth/verify` (Envoy's `path_prefix`); its `model` and `tag` parameters (or
//! an `X-Steward-Model` header) say what the request uses.

use super::{
    auth::{credentials, Credentials},
    error::{ApiError, Category, ErrorBody},
    throttle::{client_address, ClientAddress},
    AppState,
};
use crate::{
    domain::DomainError,
    gateway::{Credential, Inference, Refusal, Verified},
};
use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The check's routes: they describe it in the OpenAPI document; served (without `http::app`'s
/// lean path), each answers with `check`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_get, verify_post))
        // Envoy appends the original path, of any depth: a wildcard OpenAPI cannot describe.
        .route(
            "/v1/auth/verify/{*original}",
            axum::routing::get(verify_routed).post(verify_routed),
        )
}

const PROJECT_ID: HeaderName = HeaderName::from_static("x-steward-project-id");
const KEY_ID: HeaderName = HeaderName::from_static("x-steward-key-id");
const ACCOUNT_ID: HeaderName = HeaderName::from_static("x-steward-account-id");
const TAGS: HeaderName = HeaderName::from_static("x-steward-tags");
const SCOPES: HeaderName = HeaderName::from_static("x-steward-scopes");

/// The answer's body; the same facts are in its `X-Steward-*` headers.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    #[schema(value_type = String, format = Uuid)]
    pub project_id: String,
    #[schema(value_type = String, format = Uuid)]
    pub key_id: String,
    #[schema(value_type = String, format = Uuid)]
    pub account_id: String,
    /// The key's tags, then the request's own.
    pub tags: Vec<String>,
    /// What the key may do: its scopes within its creator's role (and a grant's).
    pub scopes: Vec<String>,
}

/// The original request's URI as the gateway passed it.
fn original_uri<'h>(headers: &'h HeaderMap, suffix: Option<&'h str>) -> Option<&'h str> {
    ["x-original-uri", "x-forwarded-uri"]
        .into_iter()
        .find_map(|name| headers.get(name)?.to_str().ok())
        .or(suffix)
}

/// The key or grant the gateway passed on, in the API's two forms of `Authorization`.
fn credential(headers: &HeaderMap) -> Option<Credential<'_>> {
    match credentials(headers)? {
        Credentials::Token(secret) => Some(Credential::Key(secret)),
        Credentials::Bearer(token) => Some(Credential::Grant(token)),
    }
}

/// A tag as one item of the comma-separated `X-Steward-Tags`: percent-encoded, so that a
/// comma or a character a header cannot carry stays inside its item.
fn header_item(tag: &str) -> String {
    url::form_urlencoded::byte_serialize(tag.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn refusal_error(refusal: &Refusal) -> ApiError {
    match refusal {
        Refusal::InvalidAuth => ApiError::invalid_auth(),
        Refusal::MissingScope => ApiError::new(
            Category::InsufficientPermissions,
            "The key may not make requests: it lacks usage:write.",
        ),
        Refusal::ModelNotAllowed => ApiError::new(
            Category::InsufficientPermissions,
            "Project does not have access to the requested model.",
        ),
        Refusal::PaymentRequired => ApiError::new(
            Category::AsrPaymentRequired,
            "The project has no credit left to pay for the request.",
        ),
        Refusal::TagBudgetReached(_) => ApiError::new(
            Category::AsrPaymentRequired,
            crate::domain::as_sentence(&refusal.to_string()),
        ),
        Refusal::TagLimitReached => ApiError::from(DomainError::TooManyTagsThisMonth),
        Refusal::BadTag(message) => ApiError::invalid_query(message.clone()),
    }
}

async fn answer(
    state: AppState,
    address: ClientAddress,
    headers: &HeaderMap,
    suffix: Option<String>,
) -> Result<Response, ApiError> {
    state.auth_failures.check(address.0)?;
    let Some(credential) = credential(headers) else {
        state.failed_authentication(address.0);
        state.metrics.verified("invalid_auth");
        return Err(ApiError::invalid_auth());
    };
    let uri = original_uri(headers, suffix.as_deref()).unwrap_or("/");
    let query = uri.split_once('?').map_or("", |(_, query)| query);
    // One pass over the query, borrowing each value unless it was percent-encoded.
    let (mut query_model, mut tags) = (None, Vec::new());
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "model" if query_model.is_none() => query_model = Some(value),
            "tag" => tags.push(value),
            _ => {}
        }
    }
    let model_header = (headers.get("x-steward-model")).and_then(|value| value.to_str().ok());
    let inference = Inference {
        model: model_header.or(query_model.as_deref()),
        tags: tags.iter().map(|tag| tag.as_ref()).collect(),
    };
    let verified = state
        .steward
        .verify(&state.grants, &state.models, credential, &inference);
    let Verified { key, tags } = match verified {
        Ok(verified) => verified,
        Err(refusal) => {
            if refusal == Refusal::InvalidAuth {
                state.failed_authentication(address.0);
            }
            state.metrics.verified(refusal.outcome());
            return Err(refusal_error(&refusal));
        }
    };
    state.metrics.verified("allowed");
    let tags: Vec<String> = tags.iter().map(|tag| tag.as_str().to_owned()).collect();
    let scopes: Vec<String> = (key.permissions.iter())
        .map(|permission| permission.name().to_owned())
        .collect();
    let header = |text: String| HeaderValue::try_from(text).map_err(ApiError::internal);
    let headers = [
        (PROJECT_ID, header(key.project_id.to_string())?),
        (KEY_ID, header(key.key_id.to_string())?),
        (ACCOUNT_ID, header(key.account_id.to_string())?),
        (
            TAGS,
            header(
                tags.iter()
                    .map(|tag| header_item(tag))
                    .collect::<Vec<_>>()
                    .join(","),
            )?,
        ),
        (SCOPES, header(scopes.join(","))?),
    ];
    let body = VerifyResponse {
        project_id: key.project_id.to_string(),
        key_id: key.key_id.to_string(),
        account_id: key.account_id.to_string(),
        tags,
        scopes,
    };
    Ok((headers, Json(body)).into_response())
}

/// May this key (`Token`) or grant token (`Bearer`) make the original request? 200 with the
/// `X-Steward-*` headers to pass upstream, or the refusal to show the caller.
#[utoipa::path(get, path = "/v1/auth/verify", tag = "gateway",
    params(("X-Original-URI" = Option<String>, Header, description = "nginx: the original URI"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "Traefik: the original URI"),
        ("X-Steward-Model" = Option<String>, Header, description = "the model, if not in the URI")),
    responses((status = 200, body = VerifyResponse,
            description = "Allowed; X-Steward-Project-Id, -Key-Id, -Account-Id, -Tags, -Scopes"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 402, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify_get(State(state): State<AppState>, request: Request) -> Response {
    check(state, request).await
}

/// The same question by `POST` (its body is ignored).
#[utoipa::path(post, path = "/v1/auth/verify", tag = "gateway",
    responses((status = 200, body = VerifyResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 402, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn verify_post(State(state): State<AppState>, request: Request) -> Response {
    check(state, request).await
}

/// The original path after `/v1/auth/verify`, with the check request's own query: how
/// Envoy's `ext_authz` (with `path_prefix: /v1/auth/verify`) passes it.
fn suffix_of(uri: &axum::http::Uri) -> Option<String> {
    let path = uri.path().strip_prefix("/v1/auth/verify")?;
    Some(match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    })
}

/// The question as Envoy asks it: the original path appended to `/v1/auth/verify`, by `GET`
/// or `POST`.
async fn verify_routed(State(state): State<AppState>, request: Request) -> Response {
    check(state, request).await
}

/// The route templates of the check, as the metrics name them.
const ROUTE: &str = "/v1/auth/verify";
const SUFFIX_ROUTE: &str = "/v1/auth/verify/{*original}";

/// The route template the check at `path` is counted under.
pub fn route_of(path: &str) -> &'static str {
    match path {
        ROUTE => ROUTE,
        _ => SUFFIX_ROUTE,
    }
}

/// The check, by `GET` or `POST` on `/v1/auth/verify` or below it: what the lean path
/// (`http::split`) answers without a router or extractors, and what the routes above answer
/// where they are served. Its body is never read.
pub async fn check(state: AppState, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    if !matches!(parts.method, Method::GET | Method::POST) {
        return ApiError::method_not_allowed().into_response();
    }
    let address = ClientAddress(client_address(&parts, &state.settings.trusted_proxies));
    let suffix = match route_of(parts.uri.path()) {
        ROUTE => None,
        _ => suffix_of(&parts.uri),
    };
    answer(state, address, &parts.headers, suffix)
        .await
        .into_response()
}
