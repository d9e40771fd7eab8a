//! The HTTP API: Deepgram's Management API v1 on the wire, plus what it lacks (signup, sessions,
//! invitations, the operator, transfers, the audit log). Each resource module exports
//! `router() -> OpenApiRouter<AppState>`; this module merges them, adds the middleware, and
//! serves the OpenAPI document generated from the very same routes.

pub mod auth;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod throttle;
pub mod usd;

mod accounts;
pub(crate) mod audit;
mod billing;
pub(crate) mod billing_usage;
mod budgets;
mod context;
mod forward;
mod grants;
mod invites;
mod keys;
mod members;
mod metering;
mod models;
mod operator;
mod permissions;
mod position;
mod projects;
pub(crate) mod query;
mod requests;
mod split;
mod system;
mod transfers;
mod usage;
mod verify;

use crate::limits::BODY_BYTES_MAX;
use crate::{
    grants::GrantKeys, models::ModelCatalog, outbox::Outbox, pricing::PriceTable,
    sessions::Sessions, Steward,
};
use axum::{
    extract::{DefaultBodyLimit, Request},
    http::{header, HeaderName, HeaderValue, Method},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Json, Router,
};
use context::RequestContext;
use error::{ApiError, ErrorBody, PendingErrorBody};
use idempotency::IdempotencyStore;
use std::sync::Arc;
use steward_events::Nanodollars;
use tower_http::{catch_panic::CatchPanicLayer, cors::CorsLayer};
use tracing::Instrument;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

/// The header that carries each request's id, as Deepgram's does.
pub const REQUEST_ID_HEADER: &str = "dg-request-id";

/// Start-up settings the handlers need.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// `Authorization: Bearer <this>` is the operator; `None` disables the operator endpoints.
    pub operator_token: Option<String>,
    /// Whether anyone may sign up.
    pub open_signup: bool,
    /// Promotional credit granted at signup, if any.
    pub promotional_credit: Option<Nanodollars>,
    /// How long an invitation stays acceptable.
    pub invitation_ttl_seconds: i64,
    /// Where people reach the console, for links in emails (no trailing slash).
    pub public_url: String,
    /// Gateways whose `X-Forwarded-For` names the client (`--trusted-proxies`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// Everything a handler may use: one `Arc`, so that the clone axum makes for every request is
/// one atomic increment (seven `Arc`s, one per service, cost 6% of an authenticated GET's CPU
/// in a profile, their counters bouncing between cores).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl AppState {
    /// The invitations service of this state: how both faces send and resend invitations.
    pub fn invitations(&self) -> crate::invitations::Invitations<'_> {
        crate::invitations::Invitations {
            steward: &self.steward,
            outbox: &self.outbox,
            ttl_seconds: self.settings.invitation_ttl_seconds,
            public_url: &self.settings.public_url,
        }
    }

    /// A failed authentication from `address`: it counts toward the address's limit and in
    /// the metrics.
    pub fn failed_authentication(&self, address: Option<std::net::IpAddr>) {
        self.auth_failures.record(address);
        self.metrics.auth_failures.inc();
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind `AppState`.
pub struct Services {
    pub steward: Arc<Steward>,
    pub settings: Arc<HttpSettings>,
    pub sessions: Arc<Sessions>,
    pub outbox: Arc<Outbox>,
    pub pricing: Arc<PriceTable>,
    pub models: Arc<ModelCatalog>,
    pub grants: Arc<GrantKeys>,
    pub idempotency: Arc<IdempotencyStore>,
    pub auth_failures: Arc<throttle::PerAddressLimit>,
    pub signups: Arc<throttle::PerAddressLimit>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Steward",
        description = "Projects, members, API keys, credits and usage. Wire-compatible with \
                       Deepgram's Management API v1, plus signup, sessions, invitations, the \
                       operator and the audit log.",
        version = env!("CARGO_PKG_VERSION"),
    ),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes),
    security(("token" = []), ("bearer" = [])),
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Token <api key secret>`",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An account session token, or the operator token"))
                    .build(),
            ),
        );
    }
}

/// Documents the errors any operation may answer, whatever its handler: malformed input
/// (400, 413, 415), credentials (401, 403), a missing project (404), an `Idempotency-Key`
/// conflict on commands (409), and server trouble (500, 503).
struct CommonErrors;

impl utoipa::Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            path::HttpMethod, ContentBuilder, Ref, RefOr, Response, ResponseBuilder,
        };
        let error = |description: &str| -> RefOr<Response> {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        let common = [
            ("400", "The request is malformed or breaks a rule."),
            ("401", "No valid credentials."),
            ("403", "The credentials lack a permission."),
            ("404", "Not found, or not visible to the caller."),
            ("413", "The request body is too large."),
            ("415", "The request body is not JSON."),
            (
                "429",
                "Too many failed authentication attempts from this address.",
            ),
            ("500", "Something went wrong on the server."),
            ("503", "The service is shutting down."),
        ];
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (HttpMethod::Get, item.get.as_mut()),
                (HttpMethod::Post, item.post.as_mut()),
                (HttpMethod::Put, item.put.as_mut()),
                (HttpMethod::Patch, item.patch.as_mut()),
                (HttpMethod::Delete, item.delete.as_mut()),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let responses = &mut operation.responses.responses;
                for (status, description) in common {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description));
                }
                if method != HttpMethod::Get {
                    responses.entry("409".to_owned()).or_insert_with(|| {
                        error("A conflict with the current state, or an Idempotency-Key reused.")
                    });
                }
            }
        }
    }
}

/// Every API route with its documentation.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::router())
        .merge(projects::router())
        .merge(keys::router())
        .merge(members::router())
        .merge(invites::router())
        .merge(billing::router())
        .merge(usage::router())
        .merge(metering::router())
        .merge(models::router())
        .merge(grants::router())
        .merge(transfers::router())
        .merge(audit::router())
        .merge(operator::router())
        .merge(system::router())
        .merge(verify::router())
        .merge(permissions::router())
        .merge(budgets::router())
}

/// The routes and their OpenAPI document, with the errors every operation may answer.
pub fn openapi_parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa::Modify;
    let (routes, mut openapi) = api().split_for_parts();
    // After the merge: modifiers of `ApiDoc` run before the routes' paths are added.
    CommonErrors.modify(&mut openapi);
    (routes, openapi)
}

/// The routes and `/openapi.json`, without the middleware (see `app`).
fn router(state: AppState) -> Router {
    let (routes, openapi) = openapi_parts();
    let openapi = Arc::new(openapi);
    routes
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let openapi = Arc::clone(&openapi);
                async move { Json(openapi.as_ref().clone()) }
            }),
        )
        .merge(crate::console::router(state.clone()))
        .route_layer(middleware::from_fn(remember_route))
        .fallback(|| async { ApiError::not_found("Route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state)
}

/// Puts the matched route's template in the answer's extensions, for the metrics: the
/// request context outside the router cannot see it otherwise.
async fn remember_route(
    matched: Option<axum::extract::MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}

/// The whole service: the routes wrapped once in the middleware, outermost first: CORS,
/// forwarding to the writer, idempotency, the request context (request id, log, error bodies,
/// security headers), the panic catcher, the body limit. The gateway's check, and metering
/// when those layers have nothing to do for it, take a lean path of their own: the request
/// context, a panic catcher and the body limit, without a router (`split`).
///
/// The layers wrap the router as a whole rather than through `Router::layer`, which wraps
/// every route on its own: there, each request cloned every layer's boxed service, about 8%
/// of an authenticated GET's CPU in a profile (BENCHMARKS.md).
pub fn app(
    state: AppState,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    let lean_state = state.clone();
    let lean = tower::service_fn(move |request| {
        let state = lean_state.clone();
        async move { Ok(split::answer(state, request).await) }
    });
    let lean = tower::ServiceBuilder::new()
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .service(lean);
    let takes_state = state.clone();
    split::Split::new(
        lean,
        with_middleware(state.clone(), router(state)),
        move |request: &Request| split::takes_lean(&takes_state, request),
    )
}

/// `routes` wrapped in the middleware `app` uses (tests wrap routes of their own).
pub fn with_middleware(
    state: AppState,
    routes: Router,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    tower::ServiceBuilder::new()
        .layer(
            CorsLayer::new()
                .allow_origin(tower_http::cors::Any)
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static(idempotency::IDEMPOTENCY_HEADER),
                    position::MIN_POSITION_HEADER,
                ])
                .expose_headers([
                    HeaderName::from_static(REQUEST_ID_HEADER),
                    position::POSITION_HEADER,
                ]),
        )
        // In a cluster, a node that is not the writer sends commands on to it from here.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            forward::forward,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotency,
        ))
        .layer(middleware::from_fn_with_state(state, request_context))
        // Inside the request context, so that a panic's 500 carries the error JSON and the
        // request id like any other error, and is logged with its cause.
        .layer(CatchPanicLayer::custom(panic_answer))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .service(routes)
}

/// The answer to a request whose handler panicked: a 500 with the error JSON; the panic's
/// message goes to the log only.
fn panic_answer(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    ApiError::internal(format!("a handler panicked: {message}")).into_response()
}

/// Headers every answer carries.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
];

/// Gives every request an id (echoed in `dg-request-id`), logs it, writes error bodies with
/// that id, sets the security headers, and counts it in the metrics under its route's
/// template. Internal causes go to the log only.
async fn request_context(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let context = RequestContext::of(&request);
    let asked = position::asked(&request);
    let unreached = unreached_position(&state, asked).instrument(context.span());
    if let Some(refusal) = unreached.await {
        return context.finish(&state, refusal, "unmatched");
    }
    let response = next.run(request).instrument(context.span()).await;
    let route = response
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let route = route
        .as_ref()
        .map_or("unmatched", |matched| matched.as_str());
    context.finish(&state, response, route)
}

/// The refusal of a request whose `Steward-Min-Position` (`asked`, from `position::asked`)
/// is malformed, or is not reached within `MIN_POSITION_WAIT`; none once the read models
/// reflect it (or it asks nothing).
async fn unreached_position(
    state: &AppState,
    asked: Result<Option<u64>, ApiError>,
) -> Option<Response> {
    match asked {
        Ok(None) => None,
        Ok(Some(asked)) => position::wait_for(state, asked).await,
        Err(refusal) => Some(refusal.into_response()),
    }
}

/// Writes the body of an error answer (an `ApiError` leaves it pending) with `request_id`, logs
/// an internal cause, and sets the `dg-request-id` header and the security headers.
fn render_error(mut response: Response, request_id: &str, method: &Method, path: &str) -> Response {
    if let Some(pending) = response.extensions_mut().remove::<PendingErrorBody>() {
        let status = response.status();
        if let Some(internal) = &pending.internal {
            let code = status.as_u16();
            tracing::error!(%request_id, %method, %path, status = code, cause = %internal, "refused on a failure of ours");
        }
        let body = ErrorBody {
            category: pending.category,
            message: pending.message,
            details: pending.details,
            request_id: request_id.to_owned(),
        };
        let mut rendered = (status, Json(body)).into_response();
        // Every value of every header the error carried (two cookies are two `Set-Cookie`s),
        // but the body's own.
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rendered.headers_mut().append(name.clone(), value.clone());
            }
        }
        // The answer keeps what the layers inside put on it (the matched route, for one).
        *rendered.extensions_mut() = std::mem::take(response.extensions_mut());
        response = rendered;
    }
    error::say_when_to_retry(&mut response);
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static(REQUEST_ID_HEADER),
        HeaderValue::from_str(request_id).expect("a UUID is a valid header value"),
    );
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, value);
    }
    response
}

/// An error answered outside `request_context` (by the outer idempotency layer), rendered with
/// a request id of its own.
fn standalone_error(error: ApiError, method: &Method, path: &str) -> Response {
    let request_id = Uuid::now_v7().to_string();
    render_error(error.into_response(), &request_id, method, path)
}

/// Removes the sessions, idempotency answers and outbox messages expired by now; returns how
/// many of each.
pub async fn sweep_stores(
    state: &AppState,
) -> Result<(usize, usize, usize), crate::processor::CommandError> {
    let now = state.steward.now();
    Ok((
        state.sessions.sweep(now).await?,
        state.idempotency.sweep(now).await?,
        state.outbox.sweep(now).await?,
    ))
}

/// `{"message": "..."}`, the answer of most Deepgram commands.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MessageResponse {
    pub message: String,
}

impl MessageResponse {
    pub fn new(message: impl Into<String>) -> Json<Self> {
        Json(Self {
            message: message.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_keeps_every_value_of_the_headers_the_error_carried() {
        let mut error = ApiError::invalid_auth().into_response();
        for cookie in ["a=1; Path=/", "b=2; Path=/"] {
            (error.headers_mut()).append(header::SET_COOKIE, HeaderValue::from_static(cookie));
        }
        let rendered = render_error(error, "request-1", &Method::GET, "/v1/projects");
        let cookies: Vec<_> = rendered
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"]);
        assert_eq!(rendered.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(rendered.headers()[REQUEST_ID_HEADER], "request-1");
    }
}
