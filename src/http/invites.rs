//! Invitations: list, send, resend (a new token; the old one dies), revoke.
//!
//! The token goes only into the email in the outbox; the log keeps its hash.

use super::{
    accounts::parse_email,
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiPath, ApiQuery},
    query::AsOfQuery,
    AppState, MessageResponse,
};
use crate::{domain::Command, outbox::DeliveryState};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use steward_events::{ProjectId, Role};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

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
    /// How the invitation's newest email went: `pending`, `sent`, `failed` or `cancelled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryState>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListInvitesResponse {
    pub invites: Vec<InviteView>,
}

/// The project's pending, unexpired invitations: now, or those that could be accepted at the
/// instant `as_of` (each with its email's delivery as it stands now).
#[utoipa::path(get, path = "/v1/projects/{project_id}/invites", tag = "invitations",
    params(("project_id" = String, Path, format = Uuid), AsOfQuery),
    responses((status = 200, body = ListInvitesResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list_invites(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> ApiResult<Json<ListInvitesResponse>> {
    let now = state.steward.now();
    let as_of = query.instant()?;
    let invitations = (state.steward).invitations(&principal, project_id, now, as_of)?;
    let invites = invitations
        .into_iter()
        .map(|(email, role)| {
            let delivery = (state.outbox.delivery_of(project_id, &email, now))
                .map_err(ApiError::from)?
                .map(|delivery| delivery.state);
            Ok(InviteView {
                email: email.to_string(),
                scope: role.name().to_owned(),
                delivery,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(ListInvitesResponse { invites }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInviteRequest {
    pub email: String,
    /// The role to invite into: `member`, `admin` or `owner`.
    pub scope: String,
}

fn parse_role(scope: &str) -> ApiResult<Role> {
    Role::parse(scope)
        .ok_or_else(|| ApiError::invalid_request("scope must be a role: member, admin or owner."))
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
    let (email, role) = (parse_email(&body.email)?, parse_role(&body.scope)?);
    let message = MessageResponse::new(format!("Invitation sent to {email}."));
    (state.invitations())
        .send(principal.actor(), project_id, email, role)
        .await?;
    Ok(message)
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
    let message = MessageResponse::new(format!("Invitation resent to {email}."));
    (state.invitations())
        .resend(principal.actor(), project_id, email)
        .await?;
    Ok(message)
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
