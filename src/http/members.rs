//! Members and their scopes (roles): list, remove (and see first what removal would end), read
//! and change a member's role.

use super::usd::Usd;
use super::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiPath, ApiQuery},
    query::AsOfQuery,
    AppState, MessageResponse,
};
use crate::{
    domain::Command,
    reads::{MemberListing, Offboarding},
};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use steward_events::{AccountId, ProjectId, Role};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(remove_member))
        .routes(routes!(get_member_scopes, update_member_scopes))
        .routes(routes!(member_offboarding))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    #[schema(value_type = String, format = Uuid)]
    pub member_id: AccountId,
    /// The member's role name, such as `["owner"]`.
    pub scopes: Vec<String>,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

impl From<MemberListing> for MemberView {
    fn from(member: MemberListing) -> Self {
        Self {
            member_id: member.account_id,
            scopes: vec![member.role.name().to_owned()],
            email: member.email,
            first_name: member.first_name,
            last_name: member.last_name,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListMembersResponse {
    pub members: Vec<MemberView>,
}

/// The project's members with their roles: now, or at the instant `as_of`.
#[utoipa::path(get, path = "/v1/projects/{project_id}/members", tag = "members",
    params(("project_id" = String, Path, format = Uuid), AsOfQuery),
    responses((status = 200, body = ListMembersResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> ApiResult<Json<ListMembersResponse>> {
    let members = (state.steward).members(&principal, project_id, query.instant()?)?;
    let members = members.into_iter().map(MemberView::from).collect();
    Ok(Json(ListMembersResponse { members }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveMemberQuery {
    /// Another member to hand every key acting as the removed one to, in the same append, so
    /// that none stops working.
    #[param(value_type = Option<String>, format = Uuid)]
    pub reassign_keys_to: Option<AccountId>,
}

/// Removes a member; every key acting as them in the project stops working at once, unless
/// `reassign_keys_to` names a member to hand the keys to first.
#[utoipa::path(delete, path = "/v1/projects/{project_id}/members/{member_id}", tag = "members",
    params(("project_id" = String, Path, format = Uuid), ("member_id" = String, Path, format = Uuid),
        RemoveMemberQuery),
    responses((status = 200, body = MessageResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, account_id)): ApiPath<(ProjectId, AccountId)>,
    ApiQuery(query): ApiQuery<RemoveMemberQuery>,
) -> ApiResult<Json<MessageResponse>> {
    state
        .steward
        .execute(
            principal.actor(),
            Command::RemoveMember {
                project_id,
                account_id,
                reassign_keys_to: query.reassign_keys_to,
            },
        )
        .await?;
    Ok(MessageResponse::new("Member removed."))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopesResponse {
    pub scopes: Vec<String>,
}

/// A member's role: one's own always; another's with the read-scopes permission of their role.
#[utoipa::path(get, path = "/v1/projects/{project_id}/members/{member_id}/scopes", tag = "members",
    params(("project_id" = String, Path, format = Uuid), ("member_id" = String, Path, format = Uuid)),
    responses((status = 200, body = ScopesResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_member_scopes(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, account_id)): ApiPath<(ProjectId, AccountId)>,
) -> ApiResult<Json<ScopesResponse>> {
    let role = (state.steward).member_role(&principal, project_id, account_id)?;
    Ok(Json(ScopesResponse {
        scopes: vec![role.name().to_owned()],
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateScopesRequest {
    /// The new role: `member`, `admin` or `owner`.
    pub scope: String,
}

/// Replaces a member's role. Refused for the sole owner, and beyond the caller's own role.
#[utoipa::path(put, path = "/v1/projects/{project_id}/members/{member_id}/scopes", tag = "members",
    params(("project_id" = String, Path, format = Uuid), ("member_id" = String, Path, format = Uuid)),
    request_body = UpdateScopesRequest,
    responses((status = 200, body = MessageResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn update_member_scopes(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, account_id)): ApiPath<(ProjectId, AccountId)>,
    ApiJson(body): ApiJson<UpdateScopesRequest>,
) -> ApiResult<Json<MessageResponse>> {
    let role = Role::parse(&body.scope).ok_or_else(|| {
        ApiError::invalid_request("scope must be a role: member, admin or owner.")
    })?;
    state
        .steward
        .execute(
            principal.actor(),
            Command::ChangeRole {
                project_id,
                account_id,
                role,
            },
        )
        .await?;
    Ok(MessageResponse::new("Successfully updated scopes."))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DyingKeyView {
    #[schema(value_type = String, format = Uuid)]
    pub api_key_id: steward_events::KeyId,
    pub comment: String,
    pub tags: Vec<String>,
    /// Requests over the 30 UTC days ending today.
    pub requests_30d: u64,
    /// What they cost, exact to the nano-dollar.
    #[schema(value_type = f64)]
    pub usd_30d: Usd,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OffboardingResponse {
    #[schema(value_type = String, format = Uuid)]
    pub member_id: AccountId,
    pub email: String,
    /// The member's role, such as `member`.
    pub scope: String,
    /// The keys that stop working if the member is removed.
    pub keys: Vec<DyingKeyView>,
    /// The member is the project's only owner: removal would be refused.
    pub sole_owner: bool,
}

impl From<Offboarding> for OffboardingResponse {
    fn from(offboarding: Offboarding) -> Self {
        Self {
            member_id: offboarding.member_id,
            email: offboarding.email,
            scope: offboarding.role.name().to_owned(),
            keys: (offboarding.keys.into_iter())
                .map(|key| DyingKeyView {
                    api_key_id: key.key_id,
                    comment: key.comment,
                    tags: key.tags.iter().map(|tag| tag.as_str().to_owned()).collect(),
                    requests_30d: key.recent.requests,
                    usd_30d: Usd(key.recent.cost),
                })
                .collect(),
            sole_owner: offboarding.sole_owner,
        }
    }
}

/// What removing the member would end (a dry run, changing nothing): the keys that would stop
/// working with their last 30 days of use, and whether the member is the only owner. Needs the
/// permission to remove that member.
#[utoipa::path(get, path = "/v1/projects/{project_id}/members/{member_id}/offboarding",
    tag = "members",
    params(("project_id" = String, Path, format = Uuid), ("member_id" = String, Path, format = Uuid)),
    responses((status = 200, body = OffboardingResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn member_offboarding(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, member_id)): ApiPath<(ProjectId, AccountId)>,
) -> ApiResult<Json<OffboardingResponse>> {
    let now = state.steward.now();
    let offboarding = (state.steward).offboarding(&principal, project_id, member_id, now)?;
    Ok(Json(offboarding.into()))
}
