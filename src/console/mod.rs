//! The Console at `/console`: server-rendered pages (askama) over the same read API and the same
//! commands as the JSON API, so it adds no rule of its own. Every page works without JavaScript;
//! the vendored htmx (2.0.x) only boosts links and forms.
//!
//! Sessions are the API's sessions, in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` when the
//! public URL is https). Every form carries a CSRF token that must equal the visitor's CSRF
//! cookie (double submit), and the pages forbid inline script (`Content-Security-Policy`).

mod audit;
mod auth;
mod billing;
mod budgets;
mod invitations;
mod key;
mod keys;
mod members;
mod projects;
mod usage;
mod visitor;

use crate::{
    domain::DomainError,
    http::{error::ApiError, AppState},
    processor::CommandError,
};
use askama::Template;
use axum::{
    extract::Path,
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use steward_events::{Nanodollars, Permission, ProjectId, Timestamp};
use steward_projections::membership::ProjectView;
use tower_http::set_header::SetResponseHeaderLayer;
pub use visitor::{unforwarded_form, SignedIn, User, Visitor};

/// The console's pages allow only their own scripts, styles and forms.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/login", get(auth::login_page).post(auth::login))
        .route("/console/signup", get(auth::signup_page).post(auth::signup))
        .route("/console/logout", post(auth::logout))
        .route(
            "/console/projects/new",
            get(projects::new_page).post(projects::create),
        )
        .route("/console/projects/{project_id}", get(open_project))
        .route(
            "/console/projects/{project_id}/settings",
            get(projects::settings_page).post(projects::rename),
        )
        .route(
            "/console/projects/{project_id}/leave",
            post(projects::leave),
        )
        .route(
            "/console/projects/{project_id}/delete",
            post(projects::delete),
        )
        .route("/console/projects/{project_id}/members", get(members::show))
        .route(
            "/console/projects/{project_id}/members/invite",
            post(members::invite),
        )
        .route(
            "/console/projects/{project_id}/members/{member_id}/role",
            post(members::change_role),
        )
        .route(
            "/console/projects/{project_id}/members/{member_id}/remove",
            get(members::confirm_removal).post(members::remove),
        )
        .route(
            "/console/projects/{project_id}/invitations/resend",
            post(members::resend),
        )
        .route(
            "/console/projects/{project_id}/invitations/revoke",
            post(members::revoke),
        )
        .route(
            "/console/projects/{project_id}/keys",
            get(keys::show).post(keys::create),
        )
        .route(
            "/console/projects/{project_id}/keys/{key_id}",
            get(key::show),
        )
        .route(
            "/console/projects/{project_id}/keys/{key_id}/delete",
            post(keys::delete),
        )
        .route(
            "/console/projects/{project_id}/keys/{key_id}/rotate",
            post(key::rotate),
        )
        .route(
            "/console/projects/{project_id}/keys/{key_id}/owner",
            post(key::hand_over),
        )
        .route("/console/projects/{project_id}/billing", get(billing::show))
        .route(
            "/console/projects/{project_id}/billing/transfer",
            post(billing::transfer),
        )
        .route(
            "/console/projects/{project_id}/budgets",
            get(budgets::show).post(budgets::set),
        )
        .route(
            "/console/projects/{project_id}/budgets/remove",
            post(budgets::remove),
        )
        .route("/console/projects/{project_id}/usage", get(usage::show))
        .route("/console/projects/{project_id}/usage/csv", get(usage::csv))
        .route("/console/projects/{project_id}/audit", get(audit::show))
        .route(
            "/console/invitations/accept",
            get(invitations::show).post(invitations::accept),
        )
        .route("/console/assets/{file}", get(asset))
        .layer(axum::middleware::from_fn(keep_address_after_forms))
        .layer(axum::middleware::from_fn_with_state(
            state,
            visitor::ensure_csrf_cookie,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
}

/// A form's answer that is a page (not a redirect) keeps, under htmx, the address of the view
/// the form was sent from, so that reloading it shows the view instead of re-sending the form.
async fn keep_address_after_forms(request: axum::extract::Request, next: Next) -> Response {
    let form = request.method() == Method::POST;
    let mut response = next.run(request).await;
    if form && !response.status().is_redirection() {
        (response.headers_mut()).insert("hx-push-url", HeaderValue::from_static("false"));
    }
    response
}

/// What every page's frame shows: who is signed in, their projects, the one open and the views
/// of it their role may see.
pub struct Chrome {
    pub csrf: String,
    pub user: Option<UserChrome>,
}

pub struct UserChrome {
    pub email: String,
    pub projects: Vec<crate::reads::ProjectListing>,
    pub current: Option<crate::reads::ProjectListing>,
    /// The open project's views the person's role may see: (label, path).
    pub views: Vec<(&'static str, String)>,
}

/// A project's views in the order of the navigation, with what each needs to be seen.
const VIEWS: [(&str, &str, Permission); 7] = [
    ("Settings", "settings", Permission::ProjectRead),
    ("Team Members", "members", Permission::MembersRead),
    ("API Keys", "keys", Permission::KeysRead),
    ("Billing", "billing", Permission::BillingRead),
    ("Budgets", "budgets", Permission::BillingRead),
    ("Usage", "usage", Permission::UsageRead),
    ("Audit Log", "audit", Permission::AdminsRead),
];

impl Chrome {
    /// The frame for `visitor`, with `current` open.
    pub fn of(state: &AppState, visitor: &Visitor, current: Option<ProjectId>) -> Self {
        let user = visitor.user.as_ref().map(|user| {
            let principal = user.principal();
            let projects = state.steward.projects(&principal);
            let current = current.and_then(|project_id| {
                (projects.iter())
                    .find(|project| project.project_id == project_id)
                    .cloned()
            });
            let access = (current.as_ref())
                .and_then(|project| state.steward.access(&principal, project.project_id).ok());
            let views = match (&current, access) {
                (Some(project), Some(access)) => (VIEWS.iter())
                    .filter(|(_, _, needs)| access.permissions.contains(*needs))
                    .map(|(label, path, _)| {
                        (
                            *label,
                            format!("/console/projects/{}/{path}", project.project_id),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
            UserChrome {
                email: user.email.clone(),
                projects,
                current,
                views,
            }
        });
        Self {
            csrf: visitor.csrf.clone(),
            user,
        }
    }
}

/// A page with a status other than 200.
pub fn page(status: StatusCode, template: impl Template) -> Response {
    match template.render() {
        // Pages hold personal data, CSRF tokens and, once, a key's secret: never cached.
        Ok(html) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "a console page did not render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub chrome: Chrome,
    pub heading: String,
    pub text: String,
}

/// A page that only says something (not found, refused).
pub fn message(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    heading: &str,
    text: &str,
) -> Response {
    let template = MessagePage {
        chrome: Chrome::of(state, visitor, None),
        heading: heading.to_owned(),
        text: text.to_owned(),
    };
    page(status, template)
}

/// A project the person does not belong to (or that does not exist) looks the same.
pub fn project_not_found(state: &AppState, visitor: &Visitor) -> Response {
    message(
        state,
        visitor,
        StatusCode::NOT_FOUND,
        "Project not found",
        "There is no such project, or you are not a member of it.",
    )
}

/// A form with nothing but its CSRF token: a button (leave, remove, delete).
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// The person who submitted a form (with the visitor's CSRF token), or the answer for a
/// signed-out visitor (log in, then come back to `here`) or a forged or stale form.
pub fn form_user<'v>(
    state: &AppState,
    visitor: &'v Visitor,
    here: &str,
    csrf: &str,
) -> Result<&'v User, Box<Response>> {
    let user =
        (visitor.require_user(here)).map_err(|redirect| Box::new(redirect.into_response()))?;
    if !visitor.csrf_matches(csrf) {
        return Err(Box::new(auth::expired_form(state, visitor)));
    }
    Ok(user)
}

/// The project if `user` may see it (else show `project_not_found`).
pub fn visible_project(
    state: &AppState,
    user: &User,
    project_id: ProjectId,
) -> Option<ProjectView> {
    state.steward.project(&user.principal(), project_id).ok()
}

/// `/console`: the person's first project, or creating one; signing in first.
async fn home(
    axum::extract::State(state): axum::extract::State<AppState>,
    visitor: Visitor,
) -> Response {
    let Some(user) = &visitor.user else {
        return Redirect::to("/console/login").into_response();
    };
    match state.steward.projects(&user.principal()).first() {
        Some(project) => Redirect::to(&format!(
            "/console/projects/{}/settings",
            project.project_id
        ))
        .into_response(),
        None => Redirect::to("/console/projects/new").into_response(),
    }
}

/// Choosing a project opens its settings.
async fn open_project(Path(project_id): Path<ProjectId>) -> Redirect {
    Redirect::to(&format!("/console/projects/{project_id}/settings"))
}

/// The embedded stylesheet and htmx.
async fn asset(Path(file): Path<String>) -> Response {
    let (content_type, body): (&str, &'static [u8]) = match file.as_str() {
        "console.css" => (
            "text/css; charset=utf-8",
            include_bytes!("assets/console.css"),
        ),
        "console.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("assets/console.js"),
        ),
        "htmx-2.0.11.min.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("assets/htmx-2.0.11.min.js"),
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A refused command as a sentence beside its field: the same rule, in words.
pub fn refusal(error: &CommandError) -> String {
    match error {
        CommandError::Domain(DomainError::InsufficientPermissions) => {
            "Your role in this project may not do this.".into()
        }
        CommandError::Domain(error) => error.sentence(),
        CommandError::Busy(_) => "The service is busy; try again.".into(),
        CommandError::NotWriter => {
            "Nothing was saved: the service is changing which node records changes; try again \
             in a moment."
                .into()
        }
        error if error.database_failed() => {
            "The database could not be reached, so whether this was saved is not known yet; \
             look again in a moment before trying again."
                .into()
        }
        CommandError::Storage(_) | CommandError::Unavailable => {
            "The change could not be saved; try again.".into()
        }
    }
}

/// A person as a page names them: `Mia Park (mia@fruit.example)`, or the address alone.
pub fn person(first_name: &str, last_name: &str, email: &str) -> String {
    match format!("{first_name} {last_name}").trim() {
        "" => email.to_owned(),
        name => format!("{name} ({email})"),
    }
}

/// The "As of" field of a list view: what was typed, the instant it means, and why it was
/// refused. A date is its first instant (UTC).
#[derive(Debug, Default)]
pub struct AsOf {
    pub text: String,
    pub at: Option<Timestamp>,
    pub error: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct AsOfQuery {
    as_of: Option<String>,
}

impl AsOf {
    /// The instant as the page shows it, when there is one.
    pub fn shown(&self) -> Option<String> {
        self.at.map(when)
    }

    /// The field of a view's query, and the status the view answers with (400 when refused).
    pub fn of(query: AsOfQuery) -> (StatusCode, Self) {
        let text = query.as_of.unwrap_or_default();
        match text.trim() {
            "" => (StatusCode::OK, Self::default()),
            given => match crate::http::query::parse_instant(given, false) {
                Some(at) => (
                    StatusCode::OK,
                    Self {
                        at: Some(at),
                        text,
                        error: None,
                    },
                ),
                None => (
                    StatusCode::BAD_REQUEST,
                    Self {
                        error: Some(
                            "Give a date (2026-11-20, its first instant in UTC) or an instant \
                             (2026-11-20T15:00:00Z)."
                                .into(),
                        ),
                        text,
                        ..Self::default()
                    },
                ),
            },
        }
    }
}

/// An instant as the console shows it: `2026-12-02 03:52 UTC`.
pub fn when(at: Timestamp) -> String {
    at.to_datetime().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An amount as the console shows it: `$12.50`, `$0.0043`; exact, never rounded.
pub fn dollars(amount: Nanodollars) -> String {
    let exact = amount.to_usd_string();
    let (whole, fraction) = exact.split_once('.').unwrap_or((&exact, ""));
    format!("${whole}.{fraction:0<2}")
}

/// A refused read as the console says it: the API's message, a role's limit in words.
pub fn api_refusal(error: &ApiError) -> String {
    match error.status {
        StatusCode::FORBIDDEN => "Your role in this project may not see this.".into(),
        _ => error.message.clone(),
    }
}

/// The status a refused form answers with: the API's for the same refusal.
pub fn status_of(error: &CommandError) -> StatusCode {
    ApiError::from(error.clone()).status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_show_as_dollars_with_cents_and_every_decimal_they_have() {
        let shown = |nanodollars| dollars(Nanodollars::new(nanodollars));
        assert_eq!(shown(0), "$0.00");
        assert_eq!(shown(12_500_000_000), "$12.50");
        assert_eq!(shown(4_300_000), "$0.0043");
        assert_eq!(shown(1_000_000_000_001), "$1000.000000001");
    }
}
