//! The model catalog on the wire: Deepgram's `/v1/models` and a project's models, and the
//! operator's grants and revocations of a project's access to a model.

use super::{
    auth::{Operator, Principal},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiPath, ApiQuery},
    query::instant_param,
    AppState, MessageResponse,
};
use crate::{
    domain::Command,
    models::{Model, ModelList},
};
use axum::{extract::State, Json};
use serde::Deserialize;
use steward_events::{Actor, ModelId, ProjectId};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(get_model))
        .routes(routes!(list_project_models))
        .routes(routes!(get_project_model))
        .routes(routes!(grant_model, revoke_model))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelsQuery {
    /// Also list the models' earlier versions.
    #[serde(default)]
    pub include_outdated: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectModelsQuery {
    /// Also list the models' earlier versions.
    #[serde(default)]
    pub include_outdated: bool,
    /// The instant to take the project's access at (a date or RFC 3339 instant); now when absent.
    pub as_of: Option<String>,
}

/// The public models of the catalog, latest versions unless `include_outdated`.
#[utoipa::path(get, path = "/v1/models", tag = "models", params(ModelsQuery),
    responses((status = 200, body = ModelList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn list_models(
    State(state): State<AppState>,
    _: Principal,
    ApiQuery(query): ApiQuery<ModelsQuery>,
) -> ApiResult<Json<ModelList>> {
    let list = (state.models).list(query.include_outdated, |entry| entry.model.public());
    Ok(Json(list))
}

/// One public model of the catalog.
#[utoipa::path(get, path = "/v1/models/{model_id}", tag = "models",
    params(("model_id" = String, Path, format = Uuid)),
    responses((status = 200, body = Model), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_model(
    State(state): State<AppState>,
    _: Principal,
    ApiPath(model_id): ApiPath<ModelId>,
) -> ApiResult<Json<Model>> {
    (state.models.get(model_id))
        .filter(|entry| entry.model.public())
        .map(|entry| Json(entry.model.clone()))
        .ok_or_else(|| ApiError::not_found("Model"))
}

/// The models the project may use: the public ones it was not refused, and private ones the
/// operator granted it.
#[utoipa::path(get, path = "/v1/projects/{project_id}/models", tag = "models",
    params(("project_id" = String, Path, format = Uuid), ProjectModelsQuery),
    responses((status = 200, body = ModelList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_project_models(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(query): ApiQuery<ProjectModelsQuery>,
) -> ApiResult<Json<ModelList>> {
    let as_of = instant_param(query.as_of.as_deref(), false)?.unwrap_or(state.steward.now());
    let list = (state.steward).project_models(
        &principal,
        project_id,
        &state.models,
        as_of,
        query.include_outdated,
    )?;
    Ok(Json(list))
}

/// One model the project may use; 403 if the operator took it away.
#[utoipa::path(get, path = "/v1/projects/{project_id}/models/{model_id}", tag = "models",
    params(("project_id" = String, Path, format = Uuid), ("model_id" = String, Path, format = Uuid)),
    responses((status = 200, body = Model), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_project_model(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, model_id)): ApiPath<(ProjectId, ModelId)>,
) -> ApiResult<Json<Model>> {
    let now = state.steward.now();
    let model =
        (state.steward).project_model(&principal, project_id, &state.models, model_id, now)?;
    Ok(Json(model))
}

/// Records the operator's change of a project's access to a model of the catalog.
async fn set_access(
    state: &AppState,
    project_id: ProjectId,
    model_id: ModelId,
    allowed: bool,
) -> ApiResult<()> {
    let entry = (state.models.get(model_id)).ok_or_else(|| ApiError::not_found("Model"))?;
    let command = Command::SetModelAccess {
        project_id,
        model_id,
        public: entry.model.public(),
        allowed,
    };
    state.steward.execute(Actor::Operator, command).await?;
    Ok(())
}

/// Lets the project use a model: a private one, or a public one taken away before.
#[utoipa::path(put, path = "/v1/operator/projects/{project_id}/models/{model_id}", tag = "operator",
    params(("project_id" = String, Path, format = Uuid), ("model_id" = String, Path, format = Uuid)),
    responses((status = 200, body = MessageResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn grant_model(
    State(state): State<AppState>,
    _: Operator,
    ApiPath((project_id, model_id)): ApiPath<(ProjectId, ModelId)>,
) -> ApiResult<Json<MessageResponse>> {
    set_access(&state, project_id, model_id, true).await?;
    Ok(MessageResponse::new("The project may use the model."))
}

/// Takes a model away from the project: metering it is refused from now on.
#[utoipa::path(delete, path = "/v1/operator/projects/{project_id}/models/{model_id}", tag = "operator",
    params(("project_id" = String, Path, format = Uuid), ("model_id" = String, Path, format = Uuid)),
    responses((status = 200, body = MessageResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_model(
    State(state): State<AppState>,
    _: Operator,
    ApiPath((project_id, model_id)): ApiPath<(ProjectId, ModelId)>,
) -> ApiResult<Json<MessageResponse>> {
    set_access(&state, project_id, model_id, false).await?;
    Ok(MessageResponse::new(
        "The project may no longer use the model.",
    ))
}
