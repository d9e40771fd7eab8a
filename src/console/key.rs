//! One API key: whom it acts as and who made it, what it may do and why not more (the API's
//! permissions read), "Rotate Secret" (the new secret shown once, the previous one working for
//! the overlap chosen) and "Hand Over" to another member. Each action is the JSON API's command,
//! offered only to whom the rules allow it.

use super::{
    form_user, keys::key_name, page, person, refusal, status_of, when, Chrome, SignedIn, User,
    Visitor,
};
use crate::{
    domain::{may_delete_key, may_hand_over_key, Command, DomainError},
    http::AppState,
    processor::CommandError,
    reads::MemberListing,
    secrets::Secret,
};
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    Form,
};
use serde::Deserialize;
use steward_events::{AccountId, KeyId, Permission, Permissions, ProjectId, Role, Tag};

/// The overlaps "Rotate Secret" offers: (seconds, words). The API takes any of 0 to 7 days.
const OVERLAPS: [(i64, &str); 4] = [
    (0, "stops now"),
    (3_600, "1 hour"),
    (86_400, "1 day"),
    (604_800, "7 days"),
];

/// A member a key may be handed to: their account, and how the page names them.
pub(super) type Heir = (AccountId, String);

/// The members to whom someone with `permissions` may hand a key acting as `from`, who holds
/// `from_role`: every other member the rules allow (`may_hand_over_key`).
pub(super) fn heirs(
    members: &[MemberListing],
    permissions: Permissions,
    (from, from_role): (AccountId, Role),
) -> Vec<Heir> {
    (members.iter())
        .filter(|member| member.account_id != from)
        .filter(|member| may_hand_over_key(permissions, from_role, member.role))
        .map(|member| {
            let name = person(&member.first_name, &member.last_name, &member.email);
            (member.account_id, name)
        })
        .collect()
}

/// A scope the key was given and cannot use, in words.
struct ShortfallRow {
    scope: &'static str,
    reason: &'static str,
}

/// A rotation just made: the new secret, shown this once.
struct Rotated {
    secret: String,
    previous_until: String,
}

#[derive(Template)]
#[template(path = "key.html")]
struct KeyPage {
    chrome: Chrome,
    project_id: ProjectId,
    key_id: KeyId,
    name: String,
    owner: String,
    creator: String,
    scopes: String,
    /// The permissions the key has now: its scopes within its owner's role.
    effective: Vec<&'static str>,
    tags: String,
    created: String,
    expires: String,
    rotation: Option<String>,
    missing: Vec<ShortfallRow>,
    may_rotate: bool,
    overlaps: Vec<(i64, &'static str)>,
    candidates: Vec<Heir>,
    rotated: Option<Rotated>,
    notice: Option<String>,
    overlap_error: Option<String>,
    member_error: Option<String>,
}

/// The outcome of the form just sent, shown on the page.
#[derive(Default)]
struct Outcome {
    rotated: Option<Rotated>,
    notice: Option<String>,
    overlap_error: Option<String>,
    member_error: Option<String>,
}

fn here(project_id: ProjectId, key_id: KeyId) -> String {
    format!("/console/projects/{project_id}/keys/{key_id}")
}

/// A reason of the permissions read, in words.
fn reason_words(reason: &str) -> &'static str {
    match reason {
        "creator_role" => "the role of the member it acts as does not include it",
        "expired" => "the key has expired",
        "deleted" => "the key was deleted",
        "creator_left" => "the member it acted as left the project",
        "creator_deleted" => "the member it acted as deleted their account",
        "project_deleted" => "the project was deleted",
        "rotated" => "its secret was replaced",
        _ => "it no longer works",
    }
}

fn key_page(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    (project_id, key_id): (ProjectId, KeyId),
    status: StatusCode,
    outcome: Outcome,
) -> Response {
    let principal = user.principal();
    let now = state.steward.now();
    let (Ok(access), Ok(listing), Ok(permissions)) = (
        state.steward.access(&principal, project_id),
        state.steward.key(&principal, project_id, key_id),
        state
            .steward
            .key_permissions(&principal, project_id, key_id),
    ) else {
        return super::message(
            state,
            visitor,
            StatusCode::NOT_FOUND,
            "API key not found",
            "There is no such key in this project, or your role may not see it.",
        );
    };
    let key = &listing.key;
    // Members are listed only to those who may read them; they are the ones who may hand over.
    let members = (state.steward.members(&principal, project_id, None)).unwrap_or_default();
    let candidates = match permissions.owner_role {
        Some(role) => heirs(&members, access.permissions, (key.owner, role)),
        None => Vec::new(),
    };
    let creator = (members.iter())
        .find(|member| member.account_id == key.created_by)
        .map(|member| person(&member.first_name, &member.last_name, &member.email))
        .unwrap_or(permissions.creator_email);
    let template = KeyPage {
        chrome: Chrome::of(state, visitor, Some(project_id)),
        project_id,
        key_id,
        name: key_name(key_id, &key.comment),
        owner: person(
            &listing.owner.first_name,
            &listing.owner.last_name,
            &listing.owner.email,
        ),
        creator,
        scopes: (key.scopes.iter().map(|scope| scope.name()))
            .collect::<Vec<_>>()
            .join(", "),
        effective: (permissions.effective.iter())
            .map(Permission::name)
            .collect(),
        tags: (key.tags.iter().map(Tag::as_str))
            .collect::<Vec<_>>()
            .join(", "),
        created: when(key.created_at),
        expires: key.expires_at.map(when).unwrap_or_else(|| "never".into()),
        rotation: key.rotated.map(|rotation| {
            let previous = match rotation.previous_secret_expires_at {
                until if until > now => format!("the previous one works until {}", when(until)),
                _ => "the previous one no longer works".into(),
            };
            format!("Secret replaced {}; {previous}.", when(rotation.at))
        }),
        missing: (permissions.missing.iter())
            .map(|shortfall| ShortfallRow {
                scope: shortfall.scope.name(),
                reason: reason_words(shortfall.reason),
            })
            .collect(),
        // Rotating takes what deleting takes (keys:write, and members:write for another's).
        may_rotate: may_delete_key(access.permissions, access.account_id, key.owner),
        overlaps: OVERLAPS.to_vec(),
        candidates,
        rotated: outcome.rotated,
        notice: outcome.notice,
        overlap_error: outcome.overlap_error,
        member_error: outcome.member_error,
    };
    page(status, template)
}

/// The key's page.
pub async fn show(
    State(state): State<AppState>,
    SignedIn { visitor, user }: SignedIn,
    Path(ids): Path<(ProjectId, KeyId)>,
) -> Response {
    key_page(
        &state,
        &visitor,
        &user,
        ids,
        StatusCode::OK,
        Outcome::default(),
    )
}

#[derive(Debug, Deserialize)]
pub struct RotateForm {
    csrf: String,
    overlap: String,
}

/// The field of the page a refusal is shown beside.
#[derive(Clone, Copy)]
enum Field {
    Overlap,
    Member,
}

impl Outcome {
    fn beside(field: Field, sentence: String) -> Self {
        match field {
            Field::Overlap => Self {
                overlap_error: Some(sentence),
                ..Self::default()
            },
            Field::Member => Self {
                member_error: Some(sentence),
                ..Self::default()
            },
        }
    }
}

/// The page after a command: what it did, or its refusal with the API's status, beside
/// `field` or, when the key itself is the reason (gone, or not the person's), at the top.
fn after(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    ids: (ProjectId, KeyId),
    field: Field,
    result: Result<Outcome, CommandError>,
) -> Response {
    let (status, outcome) = match result {
        Ok(outcome) => (StatusCode::OK, outcome),
        Err(error) => {
            let outcome = match error {
                CommandError::Domain(
                    DomainError::KeyNotFound | DomainError::InsufficientPermissions,
                ) => Outcome {
                    notice: Some(refusal(&error)),
                    ..Outcome::default()
                },
                _ => Outcome::beside(field, refusal(&error)),
            };
            (status_of(&error), outcome)
        }
    };
    key_page(state, visitor, user, ids, status, outcome)
}

/// "Rotate Secret": a new secret under the same key id, shown this once.
pub async fn rotate(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(ids): Path<(ProjectId, KeyId)>,
    Form(form): Form<RotateForm>,
) -> Response {
    let (project_id, key_id) = ids;
    let user = match form_user(&state, &visitor, &here(project_id, key_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let Some(overlap_seconds) = (OVERLAPS.iter())
        .map(|(seconds, _)| *seconds)
        .find(|seconds| form.overlap.trim() == seconds.to_string())
    else {
        let sentence = "Choose how long the previous secret keeps working.".into();
        let outcome = Outcome::beside(Field::Overlap, sentence);
        return key_page(
            &state,
            &visitor,
            user,
            ids,
            StatusCode::BAD_REQUEST,
            outcome,
        );
    };
    let secret = Secret::api_key();
    let command = Command::RotateKey {
        project_id,
        key_id,
        secret_hash: secret.hash,
        overlap_seconds,
    };
    let result = (state
        .steward
        .execute(user.principal().actor(), command)
        .await)
        .map(|_| {
            let until = state.steward.now().plus_seconds(overlap_seconds);
            Outcome {
                rotated: Some(Rotated {
                    secret: secret.secret.clone(),
                    previous_until: match overlap_seconds {
                        0 => "The previous secret no longer works.".into(),
                        _ => format!("The previous secret works until {}.", when(until)),
                    },
                }),
                ..Outcome::default()
            }
        });
    after(&state, &visitor, user, ids, Field::Overlap, result)
}

#[derive(Debug, Deserialize)]
pub struct HandOverForm {
    csrf: String,
    member_id: String,
}

/// "Hand Over": the key acts as another member from now on, keeping its id and secret.
pub async fn hand_over(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(ids): Path<(ProjectId, KeyId)>,
    Form(form): Form<HandOverForm>,
) -> Response {
    let (project_id, key_id) = ids;
    let user = match form_user(&state, &visitor, &here(project_id, key_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let Ok(to) = form.member_id.trim().parse::<AccountId>() else {
        let sentence = "Choose the member the key will act as.".into();
        let outcome = Outcome::beside(Field::Member, sentence);
        return key_page(
            &state,
            &visitor,
            user,
            ids,
            StatusCode::BAD_REQUEST,
            outcome,
        );
    };
    let command = Command::HandOverKey {
        project_id,
        key_id,
        to,
    };
    let result = (state
        .steward
        .execute(user.principal().actor(), command)
        .await)
        .map(|_| {
            let name = match state.steward.key(&user.principal(), project_id, key_id) {
                Ok(listing) => {
                    let owner = &listing.owner;
                    person(&owner.first_name, &owner.last_name, &owner.email)
                }
                // Handed to someone whose keys the person may not see.
                Err(_) => "the member chosen".into(),
            };
            Outcome {
                notice: Some(format!("The key now acts as {name}.")),
                ..Outcome::default()
            }
        });
    after(&state, &visitor, user, ids, Field::Member, result)
}
