//! Signing in, signing up and out: the API's accounts and sessions, behind forms.

use super::{
    page, refusal, status_of,
    visitor::{append_cookie, safe_next, secure_cookies, session_cookie},
    Chrome, Visitor,
};
use crate::{
    accounts::{NewAccount, Password},
    domain::{DomainError, PersonName},
    http::{throttle::ClientAddress, AppState},
    processor::CommandError,
};
use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;
use steward_events::{Actor, Email};

#[derive(Debug, Default, Deserialize)]
pub struct Next {
    #[serde(default)]
    next: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    email: String,
    error: Option<String>,
    notice: Option<String>,
    signup_open: bool,
}

/// The "Log in" form; a signed-in person goes on at once.
pub async fn login_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<Next>,
) -> Response {
    let next = safe_next(&query.next).to_owned();
    if visitor.user.is_some() {
        return Redirect::to(&next).into_response();
    }
    let notice = (next != "/console").then(|| "Log in to continue.".to_owned());
    login_form(
        &state,
        &visitor,
        StatusCode::OK,
        next,
        String::new(),
        None,
        notice,
    )
}

fn login_form(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    next: String,
    email: String,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let template = LoginPage {
        chrome: Chrome::of(state, visitor, None),
        next,
        email,
        error,
        notice,
        signup_open: state.settings.open_signup,
    };
    page(status, template)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    csrf: String,
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Checks the password like `POST /v1/login`, then sets the session cookie.
pub async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientAddress(address): ClientAddress,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(&form.next).to_owned();
    if !visitor.csrf_matches(&form.csrf) {
        return expired_form(&state, &visitor);
    }
    let again = |error: &str, status| {
        login_form(
            &state,
            &visitor,
            status,
            next.clone(),
            form.email.clone(),
            Some(error.to_owned()),
            None,
        )
    };
    if state.auth_failures.check(address).is_err() {
        return again(
            "Too many failed attempts; wait a minute.",
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let account_id = match state
        .steward
        .check_login(&form.email, form.password.clone())
        .await
    {
        Ok(Some(account_id)) => account_id,
        Ok(None) => {
            state.failed_authentication(address);
            return again("Wrong email or password.", StatusCode::UNAUTHORIZED);
        }
        Err(_) => {
            return again(
                "Too many logins right now; try again.",
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
    };
    match signed_in(&state, account_id, &next).await {
        Ok(response) => response,
        Err(error) => again(&refusal(&error), status_of(&error)),
    }
}

/// Starts a session for `account_id` and goes to `next` with its cookie; the refusal if the
/// session could not be saved (the form that asked shows it).
async fn signed_in(
    state: &AppState,
    account_id: steward_events::AccountId,
    next: &str,
) -> Result<Response, CommandError> {
    let token = (state.sessions.start(account_id, state.steward.now()).await)
        .inspect_err(|error| tracing::warn!(%error, "a console session could not be started"))?;
    let mut response = Redirect::to(next).into_response();
    append_cookie(
        &mut response,
        &session_cookie(Some(&token), secure_cookies(state)),
    );
    Ok(response)
}

/// A form whose CSRF token is not the visitor's (stale, or sent from another site).
pub fn expired_form(state: &AppState, visitor: &Visitor) -> Response {
    super::message(
        state,
        visitor,
        StatusCode::FORBIDDEN,
        "This form has expired",
        "Reload the page and try again.",
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Each field's error, shown beside it.
#[derive(Debug, Default)]
struct SignupErrors {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    password: Option<String>,
    form: Option<String>,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    chrome: Chrome,
    next: String,
    form: SignupForm,
    errors: SignupErrors,
}

fn signup_form(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    form: SignupForm,
    errors: SignupErrors,
) -> Response {
    let template = SignupPage {
        chrome: Chrome::of(state, visitor, None),
        next: safe_next(&form.next).to_owned(),
        form,
        errors,
    };
    page(status, template)
}

/// The "Sign up" form, where signup is open.
pub async fn signup_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<Next>,
) -> Response {
    if !state.settings.open_signup {
        return closed(&state, &visitor);
    }
    let form = SignupForm {
        next: query.next,
        ..SignupForm::default()
    };
    signup_form(
        &state,
        &visitor,
        StatusCode::OK,
        form,
        SignupErrors::default(),
    )
}

fn closed(state: &AppState, visitor: &Visitor) -> Response {
    super::message(
        state,
        visitor,
        StatusCode::FORBIDDEN,
        "Signup is closed",
        "Accounts on this server are created by its operator.",
    )
}

/// Registers like `POST /v1/signup` (first project, promotional credit), then signs in.
pub async fn signup(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientAddress(address): ClientAddress,
    Form(form): Form<SignupForm>,
) -> Response {
    if !state.settings.open_signup {
        return closed(&state, &visitor);
    }
    if !visitor.csrf_matches(&form.csrf) {
        return expired_form(&state, &visitor);
    }
    let mut errors = SignupErrors::default();
    let email = Email::parse(&form.email)
        .map_err(|error| errors.email = Some(format!("{error}.")))
        .ok();
    let first_name = PersonName::parse(form.first_name.clone())
        .map_err(|error| errors.first_name = Some(error.sentence()))
        .ok();
    let last_name = PersonName::parse(form.last_name.clone())
        .map_err(|error| errors.last_name = Some(error.sentence()))
        .ok();
    let password = Password::parse(form.password.clone())
        .map_err(|error| errors.password = Some(error.to_owned()))
        .ok();
    let (Some(email), Some(first_name), Some(last_name), Some(password)) =
        (email, first_name, last_name, password)
    else {
        return signup_form(&state, &visitor, StatusCode::BAD_REQUEST, form, errors);
    };
    if state.signups.take(address).is_err() {
        errors.form = Some("Too many sign-ups from your address; wait a minute.".into());
        return signup_form(
            &state,
            &visitor,
            StatusCode::TOO_MANY_REQUESTS,
            form,
            errors,
        );
    }
    let project_name = match NewAccount::first_project_name(&first_name) {
        Ok(name) => name,
        Err(error) => {
            errors.first_name = Some(error.sentence());
            return signup_form(&state, &visitor, StatusCode::BAD_REQUEST, form, errors);
        }
    };
    let account = NewAccount {
        email,
        project_name,
        first_name,
        last_name,
        password: Some(password),
        promotional_credit: state.settings.promotional_credit,
    };
    let registered = match state.steward.register(Actor::System, account).await {
        Ok(registered) => registered,
        Err(CommandError::Domain(DomainError::EmailTaken)) => {
            errors.email = Some("An account with this email already exists.".into());
            return signup_form(&state, &visitor, StatusCode::BAD_REQUEST, form, errors);
        }
        Err(error) => {
            errors.form = Some(format!("Signing up failed. {}", refusal(&error)));
            return signup_form(&state, &visitor, status_of(&error), form, errors);
        }
    };
    match signed_in(&state, registered.account_id, safe_next(&form.next)).await {
        Ok(response) => response,
        Err(error) => {
            errors.form = Some(
                "Your account was created, but signing you in failed. Log in with your email \
                 and password in a moment."
                    .into(),
            );
            signup_form(&state, &visitor, status_of(&error), form, errors)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// "Log out": ends the session and clears its cookie.
pub async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<LogoutForm>,
) -> Response {
    if !visitor.csrf_matches(&form.csrf) {
        return expired_form(&state, &visitor);
    }
    if let Some(user) = &visitor.user {
        if let Err(error) = state.sessions.end(&user.token).await {
            tracing::error!(%error, "a console session could not be ended");
        }
    }
    let mut response = Redirect::to("/console/login").into_response();
    append_cookie(&mut response, &session_cookie(None, secure_cookies(&state)));
    response
}
