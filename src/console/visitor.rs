//! Who is visiting the console: their session (the API's sessions, in a cookie) and their CSRF
//! token (a random cookie every form must repeat).

use crate::{
    access::Principal,
    http::{error::ApiError, AppState},
};
use axum::{
    extract::{FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use cookie::{Cookie, SameSite};
use steward_events::{AccountId, LogError};
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "steward_session";
pub const CSRF_COOKIE: &str = "steward_csrf";

/// A signed-in person.
#[derive(Clone, Debug)]
pub struct User {
    pub account_id: AccountId,
    pub email: String,
    /// The session token of the cookie.
    pub token: String,
}

impl User {
    pub fn principal(&self) -> Principal {
        Principal::Account(self.account_id)
    }
}

/// The visitor of a console page: a person or nobody, and the CSRF token their forms carry.
#[derive(Clone, Debug)]
pub struct Visitor {
    pub user: Option<User>,
    pub csrf: String,
}

impl Visitor {
    /// Whether `submitted` is the visitor's CSRF token.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(submitted.as_bytes()))
    }

    /// The signed-in person, or a redirect to signing in that comes back to `here`.
    pub fn require_user(&self, here: &str) -> Result<&User, Redirect> {
        self.user
            .as_ref()
            .ok_or_else(|| Redirect::to(&login_path(here)))
    }
}

/// A signed-in visitor of a page; a signed-out one is sent to log in, then back to the page.
/// A visitor whose session could not be looked up sees why (see [`Visitor`]).
pub struct SignedIn {
    pub visitor: Visitor,
    pub user: User,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        match visitor.user.clone() {
            Some(user) => Ok(Self { visitor, user }),
            None => {
                let here = parts
                    .uri
                    .path_and_query()
                    .map_or("/console", |path| path.as_str());
                Err(Redirect::to(&login_path(here)).into_response())
            }
        }
    }
}

/// The login page that comes back to `next` afterwards.
pub fn login_path(next: &str) -> String {
    format!(
        "/console/login?next={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    )
}

/// `next` if it is a console path (never another site), else the console's start.
pub fn safe_next(next: &str) -> &str {
    let console =
        next == "/console" || next.starts_with("/console/") || next.starts_with("/console?");
    if console && !next.contains("//") && !next.contains('\\') {
        next
    } else {
        "/console"
    }
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The request's CSRF cookie, if it holds a token this console could have made.
fn csrf_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie_value(headers, CSRF_COOKIE)
        .filter(|token| token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The CSRF token of the request, set by `ensure_csrf_cookie`.
#[derive(Clone)]
struct CsrfToken(String);

/// Gives every visitor a CSRF cookie: a request without one gets a fresh token, which the
/// answer sets.
pub async fn ensure_csrf_cookie(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let existing = csrf_cookie(request.headers()).map(str::to_owned);
    let fresh = existing.is_none();
    let token = existing.unwrap_or_else(|| hex::encode(rand::random::<[u8; 32]>()));
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let secure = secure_cookies(&state);
    let mut response = next.run(request).await;
    if fresh {
        let cookie = Cookie::build((CSRF_COOKIE, token))
            .path("/console")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .build();
        append_cookie(&mut response, &cookie);
    }
    response
}

/// Whether the console's cookies are `Secure`: when its public URL is https.
pub fn secure_cookies(state: &AppState) -> bool {
    state.settings.public_url.starts_with("https://")
}

pub fn append_cookie(response: &mut Response, cookie: &Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The session cookie for `token` (or, with `None`, the one that clears it).
pub fn session_cookie(token: Option<&str>, secure: bool) -> Cookie<'static> {
    let mut cookie = Cookie::build((SESSION_COOKIE, token.unwrap_or_default().to_owned()))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build();
    if token.is_none() {
        cookie.make_removal();
    }
    cookie
}

/// A visitor with a session cookie whose session could not be looked up (the database is
/// down) is answered a page that says so, with the API's status for the failure (503 and
/// `Retry-After`), rather than being taken for signed out.
impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let csrf = (parts.extensions.get::<CsrfToken>())
            .map(|token| token.0.clone())
            .unwrap_or_default();
        let user = match cookie_value(&parts.headers, SESSION_COOKIE) {
            Some(token) if !token.is_empty() => user_of(state, token).map_err(|error| {
                let signed_out = Self {
                    user: None,
                    csrf: csrf.clone(),
                };
                unreadable_session(state, &signed_out, error)
            })?,
            _ => None,
        };
        Ok(Self { user, csrf })
    }
}

/// The page for a session that could not be read.
fn unreadable_session(state: &AppState, visitor: &Visitor, error: LogError) -> Response {
    let error = ApiError::from(error);
    tracing::warn!(
        cause = error.internal.as_deref(),
        "a console session could not be read"
    );
    let text = format!("{} Nothing was changed.", error.message);
    let heading = "The Console cannot check your session";
    super::message(state, visitor, error.status, heading, &text)
}

/// The page for a form a node could not send on to the writer (`error`, the API's refusal),
/// for a visitor known from the request's cookies alone: the forwarding layer is outside the
/// console's router. A session that cannot be read (the database is down) shows no one
/// signed in; the page says why nothing could be done either way.
pub fn unforwarded_form(state: &AppState, headers: &HeaderMap, error: &ApiError) -> Response {
    tracing::warn!(
        cause = error.internal.as_deref(),
        "a console form could not be sent on to the writer"
    );
    let session = cookie_value(headers, SESSION_COOKIE).filter(|token| !token.is_empty());
    let visitor = Visitor {
        user: session.and_then(|token| user_of(state, token).ok().flatten()),
        csrf: csrf_cookie(headers).unwrap_or_default().to_owned(),
    };
    // The message says whether the form may have been saved (a writer lost mid-answer).
    let heading = match error.status {
        StatusCode::SERVICE_UNAVAILABLE => "Try again in a moment",
        _ => "The Console could not do this",
    };
    super::message(state, &visitor, error.status, heading, &error.message)
}

/// The live person whose session `token` is, or none.
fn user_of(state: &AppState, token: &str) -> Result<Option<User>, LogError> {
    let now = state.steward.now();
    let Some(account_id) = state.sessions.account(token, now)? else {
        return Ok(None);
    };
    let email = state.steward.read(|projections| {
        let account = projections.membership.accounts.get(&account_id)?;
        (!account.deleted).then(|| account.email.to_string())
    });
    Ok(email.map(|email| User {
        account_id,
        email,
        token: token.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_followed_after_signing_in() {
        assert_eq!(
            safe_next("/console/projects/1/settings"),
            "/console/projects/1/settings"
        );
        assert_eq!(
            safe_next("/console/invitations/accept?token=x"),
            "/console/invitations/accept?token=x"
        );
        for hostile in [
            "https://evil.example",
            "//evil.example",
            "/console//evil.example",
            "/v1/projects",
            "/console\\@evil",
            "/consolex",
        ] {
            assert_eq!(safe_next(hostile), "/console", "{hostile}");
        }
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; steward_session=tok; b=2"),
        );
        assert_eq!(cookie_value(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie_value(&headers, CSRF_COOKIE), None);
    }

    #[test]
    fn the_session_cookie_is_http_only_lax_and_secure_when_asked() {
        let cookie = session_cookie(Some("tok"), true).to_string();
        for part in [
            "steward_session=tok",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/console",
        ] {
            assert!(cookie.contains(part), "{part} in {cookie}");
        }
        assert!(!session_cookie(Some("tok"), false)
            .to_string()
            .contains("Secure"));
        assert!(session_cookie(None, false)
            .to_string()
            .contains("Max-Age=0"));
    }
}
