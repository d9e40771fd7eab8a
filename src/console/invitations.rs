//! Accepting an invitation: the page an invitation email links to. A signed-out person signs
//! in (or up) first and comes back; one signed in with another address is told so.

use super::{page, Chrome, Visitor};
use crate::{domain::Command, http::AppState, processor::CommandError, secrets::hash_secret};
use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;
use steward_events::{Actor, Role};

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

struct InvitationSummary {
    project: String,
    role: Role,
}

#[derive(Template)]
#[template(path = "accept.html")]
struct AcceptPage {
    chrome: Chrome,
    token: String,
    invitation: Option<InvitationSummary>,
    error: Option<String>,
}

fn here(token: &str) -> String {
    format!(
        "/console/invitations/accept?token={}",
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
    )
}

/// Shows the invitation's project and role and an "Accept Invitation" button.
async fn page_of(
    state: &AppState,
    visitor: &Visitor,
    token: &str,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let now = state.steward.now();
    let found = state.steward.read(|projections| {
        let (_, project, email, invitation) = projections
            .membership
            .invitation_by_token(&hash_secret(token))?;
        Some((
            project.name.clone(),
            email.clone(),
            invitation.role,
            invitation.expires_at,
        ))
    });
    let user_email = visitor
        .user
        .as_ref()
        .map(|user| user.email.clone())
        .unwrap_or_default();
    let (invitation, error) = match found {
        None => (None, Some("This invitation cannot be accepted: it was revoked, accepted already, or replaced by a newer one.".to_owned())),
        Some((project, email, role, expires_at)) => {
            let error = error.or_else(|| {
                if expires_at <= now {
                    Some("This invitation has expired; ask for it to be sent again.".to_owned())
                } else if !email.as_str().eq_ignore_ascii_case(&user_email) {
                    Some(format!(
                        "This invitation is for a different address ({email}); you are signed in as {user_email}."
                    ))
                } else {
                    None
                }
            });
            (Some(InvitationSummary { project, role }), error)
        }
    };
    let template = AcceptPage {
        chrome: Chrome::of(state, visitor, None),
        token: token.to_owned(),
        invitation,
        error,
    };
    page(status, template)
}

/// `GET /console/invitations/accept?token=…`.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<TokenQuery>,
) -> Response {
    if let Err(redirect) = visitor.require_user(&here(&query.token)) {
        return redirect.into_response();
    }
    page_of(&state, &visitor, &query.token, StatusCode::OK, None).await
}

#[derive(Debug, Deserialize)]
pub struct AcceptForm {
    csrf: String,
    token: String,
}

/// "Accept Invitation", like `POST /v1/invitations/accept`; then the project opens.
pub async fn accept(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<AcceptForm>,
) -> Response {
    let user = match super::form_user(&state, &visitor, &here(&form.token), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let command = Command::AcceptInvitation {
        token_hash: hash_secret(&form.token),
    };
    match state
        .steward
        .execute(Actor::Account(user.account_id), command)
        .await
    {
        Ok(envelopes) => {
            let project = envelopes
                .iter()
                .find_map(|envelope| envelope.event.project_id());
            match project {
                Some(project_id) => {
                    Redirect::to(&format!("/console/projects/{project_id}/settings"))
                        .into_response()
                }
                None => Redirect::to("/console").into_response(),
            }
        }
        Err(error) => {
            let status = super::status_of(&error);
            let text = match error {
                CommandError::Domain(error) => format!("The invitation was not accepted: {error}."),
                _ => "The invitation could not be accepted; try again.".to_owned(),
            };
            page_of(&state, &visitor, &form.token, status, Some(text)).await
        }
    }
}
