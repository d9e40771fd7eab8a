//! Projects: list, create, get, update, delete, leave.

use super::{
    auth::{Principal, Session},
    error::{ApiResult, ErrorBody},
    extract::{ApiJson, ApiPath},
    AppState, MessageResponse,
};
use crate::domain::{Command, CompanyName, ProjectName};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use steward_events::{Actor, ProjectId};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, update_project, delete_project))
        .routes(routes!(leave_project))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectSummary {
    #[schema(value_type = String, format = Uuid)]
    pub project_id: ProjectId,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListProjectsResponse {
    pub projects: Vec<ProjectSummary>,
}

/// The projects the caller can see: a key's own project, a person's projects, or, for the
/// operator, every project.
#[utoipa::path(get, path = "/v1/projects", tag = "projects",
    responses((status = 200, body = ListProjectsResponse), (status = 401, body = ErrorBody)))]
async fn list_projects(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ListProjectsResponse>> {
    let projects = state.steward.projects(&principal);
    let projects = projects
        .into_iter()
        .map(|project| ProjectSummary {
            project_id: project.project_id,
            name: project.name,
        })
        .collect();
    Ok(Json(ListProjectsResponse { projects }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    pub name: String,
}

/// Creates a project; the session's account is its owner.
#[utoipa::path(post, path = "/v1/projects", tag = "projects", request_body = CreateProjectRequest,
    responses((status = 200, body = ProjectSummary), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_project(
    State(state): State<AppState>,
    Session(account_id): Session,
    ApiJson(body): ApiJson<CreateProjectRequest>,
) -> ApiResult<Json<ProjectSummary>> {
    let project_id = ProjectId::from_uuid(Uuid::now_v7());
    let name = ProjectName::parse(body.name)?;
    let command = Command::CreateProject {
        project_id,
        name: name.clone(),
    };
    (state.steward)
        .execute(Actor::Account(account_id), command)
        .await?;
    Ok(Json(ProjectSummary {
        project_id,
        name: name.into(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GetProjectResponse {
    #[schema(value_type = String, format = Uuid)]
    pub project_id: ProjectId,
    pub name: String,
    /// Whether the project opted out of the model improvement program; always false here.
    pub mip_opt_out: bool,
    pub company: Option<String>,
}

/// One project.
#[utoipa::path(get, path = "/v1/projects/{project_id}", tag = "projects",
    params(("project_id" = String, Path, format = Uuid)),
    responses((status = 200, body = GetProjectResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_project(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
) -> ApiResult<Json<GetProjectResponse>> {
    let project = state.steward.project(&principal, project_id)?;
    Ok(Json(GetProjectResponse {
        project_id,
        name: project.name,
        mip_opt_out: false,
        company: project.company,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    pub name: Option<String>,
    pub company: Option<String>,
}

/// Renames a project or sets its company.
#[utoipa::path(patch, path = "/v1/projects/{project_id}", tag = "projects",
    params(("project_id" = String, Path, format = Uuid)), request_body = UpdateProjectRequest,
    responses((status = 200, body = MessageResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_project(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiJson(body): ApiJson<UpdateProjectRequest>,
) -> ApiResult<Json<MessageResponse>> {
    state
        .steward
        .execute(
            principal.actor(),
            Command::UpdateProject {
                project_id,
                name: body.name.map(ProjectName::parse).transpose()?,
                company: body.company.map(CompanyName::parse).transpose()?,
            },
        )
        .await?;
    Ok(MessageResponse::new("Successfully updated project info."))
}

/// Deletes a project; every key in it stops working.
#[utoipa::path(delete, path = "/v1/projects/{project_id}", tag = "projects",
    params(("project_id" = String, Path, format = Uuid)),
    responses((status = 200, body = MessageResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_project(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
) -> ApiResult<Json<MessageResponse>> {
    state
        .steward
        .execute(principal.actor(), Command::DeleteProject { project_id })
        .await?;
    Ok(MessageResponse::new("Project deleted."))
}

/// Leaves a project; the leaver's keys in it die. The sole owner may not leave.
#[utoipa::path(delete, path = "/v1/projects/{project_id}/leave", tag = "projects",
    params(("project_id" = String, Path, format = Uuid)),
    responses((status = 200, body = MessageResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn leave_project(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
) -> ApiResult<Json<MessageResponse>> {
    state
        .steward
        .execute(principal.actor(), Command::LeaveProject { project_id })
        .await?;
    Ok(MessageResponse::new("Successfully left project."))
}
