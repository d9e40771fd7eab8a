//! Projects: "Create Project", and a project's Settings ("Project Name" and "Update"), leaving
//! and deleting it. The commands are the JSON API's; their refusals are shown beside the field.

use super::{page, refusal, status_of, visible_project, Chrome, SignedIn, Visitor};
use crate::reads::ProjectListing;
use crate::{
    domain::{Command, ProjectName},
    http::AppState,
};
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;
use steward_events::{Actor, ProjectId, Role};
use steward_projections::membership::ProjectView;
use uuid::Uuid;

#[derive(Template)]
#[template(path = "new_project.html")]
struct NewProjectPage {
    chrome: Chrome,
    name: String,
    error: Option<String>,
}

/// The "Create Project" form.
pub async fn new_page(State(state): State<AppState>, signed_in: SignedIn) -> Response {
    let visitor = signed_in.visitor;
    let template = NewProjectPage {
        chrome: Chrome::of(&state, &visitor, None),
        name: String::new(),
        error: None,
    };
    page(StatusCode::OK, template)
}

#[derive(Debug, Deserialize)]
pub struct NameForm {
    csrf: String,
    name: String,
}

/// Creates a project owned by the person, and opens it.
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<NameForm>,
) -> Response {
    let user = match super::form_user(&state, &visitor, "/console/projects/new", &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let project_id = ProjectId::from_uuid(Uuid::now_v7());
    let outcome = match ProjectName::parse(form.name.clone()) {
        Ok(name) => {
            let command = Command::CreateProject { project_id, name };
            state
                .steward
                .execute(Actor::Account(user.account_id), command)
                .await
                .map(drop)
        }
        Err(error) => Err(error.into()),
    };
    match outcome {
        Ok(()) => Redirect::to(&format!("/console/projects/{project_id}/settings")).into_response(),
        Err(error) => {
            let template = NewProjectPage {
                chrome: Chrome::of(&state, &visitor, None),
                name: form.name,
                error: Some(refusal(&error)),
            };
            page(StatusCode::BAD_REQUEST, template)
        }
    }
}

/// Each form's error on the Settings page.
#[derive(Debug, Default)]
struct SettingsErrors {
    name: Option<String>,
    leave: Option<String>,
    delete: Option<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    project: ProjectListing,
    role: Role,
    is_owner: bool,
    name: String,
    errors: SettingsErrors,
    notice: Option<String>,
}

fn settings(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    (project_id, project): (ProjectId, &ProjectView),
    errors: SettingsErrors,
    notice: Option<String>,
) -> Response {
    let role = visitor
        .user
        .as_ref()
        .and_then(|user| project.members.get(&user.account_id).copied())
        .unwrap_or(Role::Member);
    let template = SettingsPage {
        chrome: Chrome::of(state, visitor, Some(project_id)),
        project: ProjectListing {
            project_id,
            name: project.name.clone(),
        },
        role,
        is_owner: role == Role::Owner,
        name: project.name.clone(),
        errors,
        notice,
    };
    page(status, template)
}

fn here(project_id: ProjectId) -> String {
    format!("/console/projects/{project_id}/settings")
}

/// The project's Settings.
pub async fn settings_page(
    State(state): State<AppState>,
    SignedIn { visitor, user }: SignedIn,
    Path(project_id): Path<ProjectId>,
) -> Response {
    match visible_project(&state, &user, project_id) {
        Some(project) => settings(
            &state,
            &visitor,
            StatusCode::OK,
            (project_id, &project),
            SettingsErrors::default(),
            None,
        ),
        None => super::project_not_found(&state, &visitor),
    }
}

/// "Update": renames the project like `PATCH /v1/projects/{project_id}`.
pub async fn rename(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(project_id): Path<ProjectId>,
    Form(form): Form<NameForm>,
) -> Response {
    let user = match super::form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let outcome = match ProjectName::parse(form.name.clone()) {
        Ok(name) => {
            let command = Command::UpdateProject {
                project_id,
                name: Some(name),
                company: None,
            };
            state
                .steward
                .execute(user.principal().actor(), command)
                .await
                .map(drop)
        }
        Err(error) => Err(error.into()),
    };
    let project = match visible_project(&state, user, project_id) {
        Some(project) => project,
        None => return super::project_not_found(&state, &visitor),
    };
    match outcome {
        Ok(()) => settings(
            &state,
            &visitor,
            StatusCode::OK,
            (project_id, &project),
            SettingsErrors::default(),
            Some("The project was renamed.".into()),
        ),
        Err(error) => {
            let errors = SettingsErrors {
                name: Some(refusal(&error)),
                ..SettingsErrors::default()
            };
            settings(
                &state,
                &visitor,
                status_of(&error),
                (project_id, &project),
                errors,
                None,
            )
        }
    }
}

/// "Leave Project", like `DELETE /v1/projects/{project_id}/leave`.
pub async fn leave(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(project_id): Path<ProjectId>,
    Form(form): Form<super::CsrfForm>,
) -> Response {
    let user = match super::form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let command = Command::LeaveProject { project_id };
    match state
        .steward
        .execute(user.principal().actor(), command)
        .await
    {
        Ok(_) => Redirect::to("/console").into_response(),
        Err(error) => match visible_project(&state, user, project_id) {
            Some(project) => {
                let errors = SettingsErrors {
                    leave: Some(refusal(&error)),
                    ..SettingsErrors::default()
                };
                settings(
                    &state,
                    &visitor,
                    status_of(&error),
                    (project_id, &project),
                    errors,
                    None,
                )
            }
            None => super::project_not_found(&state, &visitor),
        },
    }
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    csrf: String,
    confirm: String,
}

/// "Delete Project": the owner types the project's name to confirm.
pub async fn delete(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(project_id): Path<ProjectId>,
    Form(form): Form<DeleteForm>,
) -> Response {
    let user = match super::form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let project = match visible_project(&state, user, project_id) {
        Some(project) => project,
        None => return super::project_not_found(&state, &visitor),
    };
    let refused = |text: String, status| {
        let errors = SettingsErrors {
            delete: Some(text),
            ..SettingsErrors::default()
        };
        settings(
            &state,
            &visitor,
            status,
            (project_id, &project),
            errors,
            None,
        )
    };
    if form.confirm != project.name {
        return refused(
            "Type the project's name exactly to confirm.".into(),
            StatusCode::BAD_REQUEST,
        );
    }
    let command = Command::DeleteProject { project_id };
    match state
        .steward
        .execute(user.principal().actor(), command)
        .await
    {
        Ok(_) => Redirect::to("/console").into_response(),
        Err(error) => refused(refusal(&error), status_of(&error)),
    }
}
