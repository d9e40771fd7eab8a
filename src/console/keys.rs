//! API Keys: the keys the person may see, "Create API Key" (its secret shown once, on the page
//! that answers the creation, never again) and deleting a key. The commands are the JSON API's;
//! a role is offered only where it is no greater than the person's own.

use super::{
    form_user, page, project_not_found, refusal, status_of, when, AsOf, AsOfQuery, Chrome,
    SignedIn, User, Visitor,
};
use crate::{
    domain::{may_delete_key, Command, DomainError, KeyComment, NewKey},
    http::{query::parse_instant, AppState},
    limits::TAGS_PER_KEY_MAX,
    processor::CommandError,
    reads::ProjectListing,
    secrets::Secret,
};
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
    Form,
};
use serde::Deserialize;
use steward_events::{KeyId, Permission, ProjectId, Role, Scope, Tag};
use uuid::Uuid;

struct KeyRow {
    key_id: KeyId,
    /// The comment, or the id for a key without one: what names the key on the page.
    name: String,
    scopes: String,
    tags: String,
    created: String,
    expires: String,
    /// The member the key acts as.
    owner: String,
    expired: bool,
    /// Whether it still works now, so that its page can be opened (a list of the past holds
    /// keys ended since).
    live: bool,
    deletable: bool,
}

/// What "Create API Key" was given, to show again beside its errors.
#[derive(Debug, Default, Deserialize)]
pub struct KeyForm {
    csrf: String,
    comment: String,
    role: String,
    tags: String,
    expires: String,
}

/// The errors of a creation, each beside its field.
#[derive(Default)]
struct FieldErrors {
    comment: Option<String>,
    role: Option<String>,
    tags: Option<String>,
    expires: Option<String>,
    form: Option<String>,
}

/// A key just made: its secret, shown this once.
struct Created {
    name: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage {
    chrome: Chrome,
    project: ProjectListing,
    keys: Vec<KeyRow>,
    /// The roles a new key may have: none greater than the person's own.
    roles: Vec<&'static str>,
    can_create: bool,
    form: KeyForm,
    errors: FieldErrors,
    created: Option<Created>,
    notice: Option<String>,
    /// The instant the list is for, when not now: the keys that worked then.
    as_of: AsOf,
}

impl KeysPage {
    fn same(&self, a: &str, b: &str) -> bool {
        a == b
    }
}

fn here(project_id: ProjectId) -> String {
    format!("/console/projects/{project_id}/keys")
}

/// What the page shows besides the list: the outcome of the form just sent.
#[derive(Default)]
struct Outcome {
    form: KeyForm,
    errors: FieldErrors,
    created: Option<Created>,
    notice: Option<String>,
    as_of: AsOf,
}

/// What names a key on a page: its comment, or its id for a key without one.
pub(super) fn key_name(key_id: KeyId, comment: &str) -> String {
    match comment {
        "" => key_id.to_string(),
        comment => comment.to_owned(),
    }
}

fn keys_page(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    project_id: ProjectId,
    status: StatusCode,
    outcome: Outcome,
) -> Response {
    let principal = user.principal();
    let (Ok(project), Ok(access)) = (
        state.steward.project(&principal, project_id),
        state.steward.access(&principal, project_id),
    ) else {
        return project_not_found(state, visitor);
    };
    let now = state.steward.now();
    let keys = match outcome.as_of.at {
        Some(at) => state.steward.keys_as_of(&principal, project_id, at),
        None => state.steward.keys(&principal, project_id, None, now),
    };
    let Ok(keys) = keys else {
        return super::message(
            state,
            visitor,
            StatusCode::FORBIDDEN,
            "API Keys",
            "Your role in this project may not see its keys.",
        );
    };
    let keys = keys
        .iter()
        .map(|listing| {
            let key = &listing.key;
            let owner = &listing.owner;
            KeyRow {
                key_id: listing.key_id,
                name: key_name(listing.key_id, &listing.key.comment),
                scopes: (key.scopes.iter().map(|scope| scope.name()))
                    .collect::<Vec<_>>()
                    .join(", "),
                tags: (key.tags.iter().map(Tag::as_str))
                    .collect::<Vec<_>>()
                    .join(", "),
                created: when(key.created_at),
                expires: key.expires_at.map(when).unwrap_or_else(|| "never".into()),
                owner: super::person(&owner.first_name, &owner.last_name, &owner.email),
                expired: key
                    .expires_at
                    .is_some_and(|at| at <= outcome.as_of.at.unwrap_or(now)),
                live: key.ended.is_none(),
                // The past is read, not changed.
                deletable: outcome.as_of.at.is_none()
                    && may_delete_key(access.permissions, access.account_id, key.owner),
            }
        })
        .collect();
    let roles = (Role::ALL.into_iter())
        .filter(|role| {
            Scope::Role(*role)
                .permissions()
                .is_subset_of(access.permissions)
        })
        .map(Role::name)
        .collect();
    let template = KeysPage {
        chrome: Chrome::of(state, visitor, Some(project_id)),
        project: ProjectListing {
            project_id,
            name: project.name,
        },
        keys,
        roles,
        can_create: outcome.as_of.at.is_none()
            && access.permissions.contains(Permission::KeysWrite),
        form: outcome.form,
        errors: outcome.errors,
        created: outcome.created,
        notice: outcome.notice,
        as_of: outcome.as_of,
    };
    page(status, template)
}

/// The API Keys view, now or "As of" an instant of the past.
pub async fn show(
    State(state): State<AppState>,
    SignedIn { visitor, user }: SignedIn,
    Path(project_id): Path<ProjectId>,
    Query(query): Query<AsOfQuery>,
) -> Response {
    let (status, as_of) = AsOf::of(query);
    let outcome = Outcome {
        as_of,
        ..Outcome::default()
    };
    keys_page(&state, &visitor, &user, project_id, status, outcome)
}

/// The command a "Create API Key" form asks for, or its errors beside their fields.
fn command(
    form: &KeyForm,
    project_id: ProjectId,
    key_id: KeyId,
    secret: &Secret,
) -> Result<Command, FieldErrors> {
    let mut errors = FieldErrors::default();
    let comment = KeyComment::parse(form.comment.trim())
        .map_err(|error| errors.comment = Some(error.sentence()))
        .ok();
    let role = Role::parse(&form.role);
    if role.is_none() {
        errors.role = Some("Choose a role.".into());
    }
    let tags: Result<Vec<Tag>, _> = (form.tags.split([',', '\n']))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(|tag| Tag::parse(tag).map_err(|_| tag))
        .collect();
    let tags = match tags {
        Ok(tags) if tags.len() > TAGS_PER_KEY_MAX => {
            errors.tags = Some(format!("A key has at most {TAGS_PER_KEY_MAX} tags."));
            None
        }
        Ok(tags) => Some(tags),
        Err(bad) => {
            errors.tags = Some(format!(
                "The tag {bad:?} is not valid: 1 to {} characters, no control characters.",
                Tag::MAX_CHARS
            ));
            None
        }
    };
    let expires_at = match form.expires.trim() {
        "" => Some(None),
        date => {
            let expires_at = parse_instant(date, false);
            if expires_at.is_none() {
                errors.expires = Some("Give the expiry as a date (2027-01-31).".into());
            }
            expires_at.map(Some)
        }
    };
    match (comment, role, tags, expires_at) {
        (Some(comment), Some(role), Some(tags), Some(expires_at)) => {
            Ok(Command::CreateKey(NewKey {
                project_id,
                key_id,
                secret_hash: secret.hash,
                scopes: vec![Scope::Role(role)],
                tags,
                expires_at,
                comment,
            }))
        }
        _ => Err(errors),
    }
}

/// A refused creation's error, beside the field it concerns.
fn field_errors(error: &CommandError) -> FieldErrors {
    let sentence = refusal(error);
    let mut errors = FieldErrors::default();
    match error {
        CommandError::Domain(DomainError::ExpiryInPast) => errors.expires = Some(sentence),
        CommandError::Domain(DomainError::ScopeBeyondOwn | DomainError::InvalidScopes) => {
            errors.role = Some(sentence)
        }
        CommandError::Domain(DomainError::TooManyTags) => errors.tags = Some(sentence),
        CommandError::Domain(DomainError::InvalidComment) => errors.comment = Some(sentence),
        _ => errors.form = Some(sentence),
    }
    errors
}

/// "Create API Key": the answer shows the secret this once.
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(project_id): Path<ProjectId>,
    Form(form): Form<KeyForm>,
) -> Response {
    let user = match form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let (key_id, secret) = (KeyId::from_uuid(Uuid::now_v7()), Secret::api_key());
    let refused = |form, errors| Outcome {
        form,
        errors,
        ..Outcome::default()
    };
    let command = match command(&form, project_id, key_id, &secret) {
        Ok(command) => command,
        Err(errors) => {
            let outcome = refused(form, errors);
            return keys_page(
                &state,
                &visitor,
                user,
                project_id,
                StatusCode::BAD_REQUEST,
                outcome,
            );
        }
    };
    match (state.steward)
        .execute(user.principal().actor(), command)
        .await
    {
        Ok(_) => {
            let name = key_name(key_id, form.comment.trim());
            let outcome = Outcome {
                created: Some(Created {
                    name,
                    secret: secret.secret.clone(),
                }),
                ..Outcome::default()
            };
            keys_page(&state, &visitor, user, project_id, StatusCode::OK, outcome)
        }
        Err(error) => {
            let outcome = refused(form, field_errors(&error));
            keys_page(
                &state,
                &visitor,
                user,
                project_id,
                status_of(&error),
                outcome,
            )
        }
    }
}

/// "Delete <comment>": the key stops working at once.
pub async fn delete(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((project_id, key_id)): Path<(ProjectId, KeyId)>,
    Form(form): Form<super::CsrfForm>,
) -> Response {
    let user = match form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let name = (state.steward.key(&user.principal(), project_id, key_id))
        .map(|listing| key_name(listing.key_id, &listing.key.comment))
        .unwrap_or_else(|_| key_id.to_string());
    let command = Command::DeleteKey { project_id, key_id };
    let (status, notice) = match (state.steward)
        .execute(user.principal().actor(), command)
        .await
    {
        Ok(_) => (StatusCode::OK, format!("The key {name} was deleted.")),
        Err(error) => (status_of(&error), refusal(&error)),
    };
    let outcome = Outcome {
        notice: Some(notice),
        ..Outcome::default()
    };
    keys_page(&state, &visitor, user, project_id, status, outcome)
}
