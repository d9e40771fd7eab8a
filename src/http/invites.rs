//! Invitations: list, send, resend (a new token; the old one dies), revoke.
//!
//! The token goes only into the email in the outbox; the log keeps its hash.

use super::{
    accounts::parse_email,
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiPath},
    AppState, MessageResponse,
};
use crate::{domain::Command, outbox::OutboxMessage, secrets::Secret};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use steward_events::{Email, ProjectId, Role, Timestamp};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_invites, send_invite))
        .routes(routes!(revoke_invite))
        .routes(routes!(resend_invite))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteView {
    pub email: String,
    /// The role the invitee will hold.
    pub scope: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListInvitesResponse {
    pub invites: Vec<InviteView>,
}

/// The project's pending, unexpired invitations.
#[utoipa::path(get, path = "/v1/projects/{project_id}/invites", tag = "invitations",
    params(("project_id" = String, Path, format = Uuid)),
    responses((status = 200, body = ListInvitesResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_invites(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
) -> ApiResult<Json<ListInvitesResponse>> {
    let now = state.steward.now();
    let invitations = state.steward.invitations(&principal, project_id, now)?;
    let invites = invitations
        .into_iter()
        .map(|(email, role)| InviteView {
            email: email.to_string(),
            scope: role.name().to_owned(),
        })
        .collect();
    Ok(Json(ListInvitesResponse { invites }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInviteRequest {
    pub email: String,
    /// The role to invite into: `member`, `admin` or `owner`.
    pub scope: String,
}

/// A new invitation token and the instant it stops working.
fn fresh_token(state: &AppState) -> (Secret, Timestamp) {
    let expires_at = state
        .steward
        .now()
        .plus_seconds(state.settings.invitation_ttl_seconds);
    (Secret::invitation_token(), expires_at)
}

/// Puts the invitation email, with its token, into the outbox.
async fn send_email(
    state: &AppState,
    project_id: ProjectId,
    email: &Email,
    role: Role,
    token: Secret,
    expires_at: Timestamp,
) -> ApiResult<()> {
    let project_name = state.steward.read(|projections| {
        projections
            .membership
            .project(project_id)
            .map(|project| project.name.clone())
            .unwrap_or_default()
    });
    let message = OutboxMessage {
        message_id: Uuid::now_v7(),
        to: email.to_string(),
        subject: format!("You are invited to join {project_name}"),
        body: format!(
            "You have been invited to join the project {project_name} as {role}. Sign in with \
             {email} and accept the invitation with this token before {expires_at}:\n\n{}\n",
            token.secret
        ),
        token: token.secret,
        created: state.steward.now(),
    };
    Ok(state.outbox.push(&message).await?)
}

/// Invites someone by email into a role no greater than the caller's own.
#[utoipa::path(post, path = "/v1/projects/{project_id}/invites", tag = "invitations",
    params(("project_id" = String, Path, format = Uuid)), request_body = SendInviteRequest,
    responses((status = 200, body = MessageResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn send_invite(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiJson(body): ApiJson<SendInviteRequest>,
) -> ApiResult<Json<MessageResponse>> {
    let email = parse_email(&body.email)?;
    let role = Role::parse(&body.scope).ok_or_else(|| {
        ApiError::invalid_request("scope must be a role: member, admin or owner.")
    })?;
    let (token, expires_at) = fresh_token(&state);
    state
        .steward
        .execute(
            principal.actor(),
            Command::InviteMember {
                project_id,
                email: email.clone(),
                role,
                token_hash: token.hash,
                expires_at,
            },
        )
        .await?;
    send_email(&state, project_id, &email, role, token, expires_at).await?;
    Ok(MessageResponse::new(format!("Invitation sent to {email}.")))
}

/// Sends a pending invitation again with a new token and expiry; the old token stops working.
#[utoipa::path(post, path = "/v1/projects/{project_id}/invites/{email}/resend", tag = "invitations",
    params(("project_id" = String, Path, format = Uuid), ("email" = String, Path)),
    responses((status = 200, body = MessageResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn resend_invite(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, email)): ApiPath<(ProjectId, String)>,
) -> ApiResult<Json<MessageResponse>> {
    let email = parse_email(&email)?;
    let (token, expires_at) = fresh_token(&state);
    state
        .steward
        .execute(
            principal.actor(),
            Command::ResendInvitation {
                project_id,
                email: email.clone(),
                token_hash: token.hash,
                expires_at,
            },
        )
        .await?;
    let role = state
        .steward
        .read(|projections| {
            projections
                .membership
                .project(project_id)
                .and_then(|project| project.invitations.get(&email).map(|i| i.role))
        })
        .ok_or_else(|| ApiError::internal("a resent invitation is pending"))?;
    send_email(&state, project_id, &email, role, token, expires_at).await?;
    Ok(MessageResponse::new(format!(
        "Invitation resent to {email}."
    )))
}

/// Revokes a pending invitation; its token stops working.
#[utoipa::path(delete, path = "/v1/projects/{project_id}/invites/{email}", tag = "invitations",
    params(("project_id" = String, Path, format = Uuid), ("email" = String, Path)),
    responses((status = 200, body = MessageResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_invite(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, email)): ApiPath<(ProjectId, String)>,
) -> ApiResult<Json<MessageResponse>> {
    let email = parse_email(&email)?;
    state
        .steward
        .execute(
            principal.actor(),
            Command::RevokeInvitation { project_id, email },
        )
        .await?;
    Ok(MessageResponse::new("Invitation revoked."))
}
