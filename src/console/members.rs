//! Team Members: the members with their roles, the pending invitations with their emails'
//! delivery, "Invite New Member" for one or several addresses, resending and revoking, changing
//! a role, and removing a member after seeing which of their keys will stop working. Each
//! action is the JSON API's command; what a role may not do is not offered.

use super::{
    form_user, page, project_not_found, refusal, status_of, visible_project, AsOf, AsOfQuery,
    Chrome, SignedIn, User, Visitor,
};
use crate::{
    domain::{may_change_role, may_invite_as, may_remove, Command},
    http::AppState,
    limits::INVITES_PER_FORM_MAX,
    processor::CommandError,
    reads::ProjectListing,
};
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;
use steward_events::{AccountId, Email, Permissions, ProjectId, Role};

struct MemberRow {
    account_id: AccountId,
    name: String,
    email: String,
    role: &'static str,
    /// The roles the person may give this member (their current one among them), or none
    /// when they may not change it.
    roles: Vec<&'static str>,
    removable: bool,
}

struct InvitationRow {
    email: String,
    role: Role,
    delivery: Option<&'static str>,
    /// Whether the person may resend and revoke it.
    manageable: bool,
}

/// One address of an "Invite New Member" form, and what became of it.
struct InviteResult {
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    chrome: Chrome,
    project: ProjectListing,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    /// The roles the person may invite into; none when they may not invite.
    invite_roles: Vec<&'static str>,
    results: Vec<InviteResult>,
    emails: String,
    emails_error: Option<String>,
    notice: Option<String>,
    /// The instant the lists are for, when not now (nothing can be changed in the past).
    as_of: AsOf,
}

impl MembersPage {
    /// Whether two role names are the same (for the selected option).
    fn same(&self, a: &str, b: &str) -> bool {
        a == b
    }
}

fn here(project_id: ProjectId) -> String {
    format!("/console/projects/{project_id}/members")
}

/// What the page shows besides the lists: the outcome of the form just sent.
#[derive(Default)]
struct Outcome {
    results: Vec<InviteResult>,
    emails: String,
    emails_error: Option<String>,
    notice: Option<String>,
    as_of: AsOf,
}

fn members_page(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    project_id: ProjectId,
    status: StatusCode,
    outcome: Outcome,
) -> Response {
    let Some(project) = visible_project(state, user, project_id) else {
        return project_not_found(state, visitor);
    };
    let principal = user.principal();
    let Ok(access) = state.steward.access(&principal, project_id) else {
        return project_not_found(state, visitor);
    };
    let members = match state
        .steward
        .members(&principal, project_id, outcome.as_of.at)
    {
        Ok(members) => members,
        Err(_) => {
            return super::message(
                state,
                visitor,
                StatusCode::FORBIDDEN,
                "Team Members",
                "Your role in this project may not see its members.",
            )
        }
    };
    let now = state.steward.now();
    let invitations = (state
        .steward
        .invitations(&principal, project_id, now, outcome.as_of.at))
    .unwrap_or_default();
    // The past is read, not changed: no control is offered on a list as of another instant.
    let permissions = match outcome.as_of.at {
        Some(_) => Permissions::NONE,
        None => access.permissions,
    };
    let invitations = invitations
        .into_iter()
        .map(|(email, role)| {
            let delivery = (state.outbox.delivery_of(project_id, &email, now))
                .ok()
                .flatten();
            InvitationRow {
                email: email.to_string(),
                role,
                delivery: delivery.map(|delivery| delivery_words(delivery.state)),
                manageable: may_invite_as(permissions, role),
            }
        })
        .collect();
    let template = MembersPage {
        chrome: Chrome::of(state, visitor, Some(project_id)),
        project: ProjectListing {
            project_id,
            name: project.name,
        },
        members: members
            .into_iter()
            .map(|member| MemberRow {
                account_id: member.account_id,
                name: format!("{} {}", member.first_name, member.last_name)
                    .trim()
                    .to_owned(),
                email: member.email,
                role: member.role.name(),
                roles: (Role::ALL.into_iter())
                    .filter(|role| may_change_role(permissions, member.role, *role))
                    .map(Role::name)
                    .collect(),
                removable: may_remove(permissions, member.role),
            })
            .collect(),
        invitations,
        invite_roles: (Role::ALL.into_iter())
            .filter(|role| may_invite_as(permissions, *role))
            .map(Role::name)
            .collect(),
        results: outcome.results,
        emails: outcome.emails,
        emails_error: outcome.emails_error,
        notice: outcome.notice,
        as_of: outcome.as_of,
    };
    page(status, template)
}

fn delivery_words(state: crate::outbox::DeliveryState) -> &'static str {
    use crate::outbox::DeliveryState::*;
    match state {
        Pending => "email waiting to be sent",
        Sent => "invitation sent",
        Failed => "delivery failed",
        Cancelled => "email cancelled",
    }
}

/// The Team Members view, now or "As of" an instant of the past.
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
    members_page(&state, &visitor, &user, project_id, status, outcome)
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    csrf: String,
    emails: String,
    role: String,
}

/// "Send Invites": each address (separated by commas or new lines) is its own invitation.
pub async fn invite(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(project_id): Path<ProjectId>,
    Form(form): Form<InviteForm>,
) -> Response {
    let user = match form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let addresses: Vec<&str> = (form.emails.split([',', '\n', '\r']))
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .collect();
    let refuse = |error: String| Outcome {
        emails: form.emails.clone(),
        emails_error: Some(error),
        ..Outcome::default()
    };
    let Some(role) = Role::parse(&form.role) else {
        let outcome = refuse("Choose a role: member, admin or owner.".into());
        return members_page(
            &state,
            &visitor,
            user,
            project_id,
            StatusCode::BAD_REQUEST,
            outcome,
        );
    };
    if addresses.is_empty() || addresses.len() > INVITES_PER_FORM_MAX {
        let outcome = refuse(format!(
            "Give 1 to {INVITES_PER_FORM_MAX} addresses, separated by commas or new lines."
        ));
        return members_page(
            &state,
            &visitor,
            user,
            project_id,
            StatusCode::BAD_REQUEST,
            outcome,
        );
    }
    let invitations = state.invitations();
    let mut results = Vec::new();
    for address in addresses {
        let error = match Email::parse(address) {
            Ok(email) => invitations
                .send(user.principal().actor(), project_id, email, role)
                .await
                .err()
                .map(|error| refusal(&error)),
            Err(error) => Some(format!("{error}")),
        };
        results.push(InviteResult {
            email: address.to_owned(),
            error,
        });
    }
    let outcome = Outcome {
        results,
        ..Outcome::default()
    };
    members_page(&state, &visitor, user, project_id, StatusCode::OK, outcome)
}

#[derive(Debug, Deserialize)]
pub struct EmailForm {
    csrf: String,
    email: String,
}

/// "Resend Invitation": a new email with a new token; the old token dies.
pub async fn resend(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(project_id): Path<ProjectId>,
    Form(form): Form<EmailForm>,
) -> Response {
    let user = match form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let outcome = match Email::parse(&form.email) {
        Ok(email) => {
            state
                .invitations()
                .resend(user.principal().actor(), project_id, email)
                .await
        }
        Err(_) => Err(crate::domain::DomainError::InvitationNotFound.into()),
    };
    after(
        &state,
        &visitor,
        user,
        project_id,
        outcome,
        format!("The invitation to {} was sent again.", form.email),
    )
}

/// Revoking a pending invitation: its token dies.
pub async fn revoke(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(project_id): Path<ProjectId>,
    Form(form): Form<EmailForm>,
) -> Response {
    let user = match form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let outcome = match Email::parse(&form.email) {
        Ok(email) => {
            let command = Command::RevokeInvitation { project_id, email };
            state
                .steward
                .execute(user.principal().actor(), command)
                .await
                .map(drop)
        }
        Err(_) => Err(crate::domain::DomainError::InvitationNotFound.into()),
    };
    after(
        &state,
        &visitor,
        user,
        project_id,
        outcome,
        format!("The invitation to {} was revoked.", form.email),
    )
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    csrf: String,
    role: String,
}

/// The "Role" control: changes a member's role.
pub async fn change_role(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((project_id, account_id)): Path<(ProjectId, AccountId)>,
    Form(form): Form<RoleForm>,
) -> Response {
    let user = match form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let outcome = match Role::parse(&form.role) {
        Some(role) => {
            let command = Command::ChangeRole {
                project_id,
                account_id,
                role,
            };
            state
                .steward
                .execute(user.principal().actor(), command)
                .await
                .map(drop)
        }
        None => Err(crate::domain::DomainError::InvalidScopes.into()),
    };
    after(
        &state,
        &visitor,
        user,
        project_id,
        outcome,
        "The role was changed.".into(),
    )
}

/// The page after an action: its notice, or its refusal with the API's status.
fn after(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    project_id: ProjectId,
    outcome: Result<(), CommandError>,
    done: String,
) -> Response {
    let (status, notice) = match outcome {
        Ok(()) => (StatusCode::OK, done),
        Err(error) => (status_of(&error), refusal(&error)),
    };
    let outcome = Outcome {
        notice: Some(notice),
        ..Outcome::default()
    };
    members_page(state, visitor, user, project_id, status, outcome)
}

/// A key of the member's that removal would end, with its last 30 days.
struct DyingKeyRow {
    name: String,
    requests: u64,
    cost: String,
}

#[derive(Template)]
#[template(path = "remove.html")]
struct RemovePage {
    chrome: Chrome,
    project_id: ProjectId,
    member_id: AccountId,
    email: String,
    keys: Vec<DyingKeyRow>,
    days: i64,
    sole_owner: bool,
    /// Whom the person may hand the keys to instead; none offered when they may not.
    heirs: Vec<super::key::Heir>,
    error: Option<String>,
}

fn remove_page(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    (project_id, member_id): (ProjectId, AccountId),
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let now = state.steward.now();
    // The API's offboarding dry run: the keys that die with the membership, and their use.
    let offboarding = match state
        .steward
        .offboarding(&user.principal(), project_id, member_id, now)
    {
        Ok(offboarding) => offboarding,
        Err(crate::reads::ReadError::Access(
            crate::access::AccessError::InsufficientPermissions,
        )) => {
            return super::message(
                state,
                visitor,
                StatusCode::FORBIDDEN,
                "Team Members",
                "Your role in this project may not remove this member.",
            )
        }
        Err(_) => return project_not_found(state, visitor),
    };
    let principal = user.principal();
    let members = (state.steward.members(&principal, project_id, None)).unwrap_or_default();
    let leaving = (members.iter()).find(|member| member.account_id == member_id);
    let heirs = match (leaving, state.steward.access(&principal, project_id)) {
        (Some(leaving), Ok(access)) if !offboarding.keys.is_empty() => {
            super::key::heirs(&members, access.permissions, (member_id, leaving.role))
        }
        _ => Vec::new(),
    };
    let template = RemovePage {
        chrome: Chrome::of(state, visitor, Some(project_id)),
        project_id,
        member_id,
        email: offboarding.email,
        keys: (offboarding.keys.into_iter())
            .map(|key| DyingKeyRow {
                name: super::keys::key_name(key.key_id, &key.comment),
                requests: key.recent.requests,
                cost: super::dollars(key.recent.cost),
            })
            .collect(),
        days: crate::reads::OFFBOARDING_USAGE_DAYS,
        sole_owner: offboarding.sole_owner,
        heirs,
        error,
    };
    page(status, template)
}

/// Before removing: which of the member's keys will stop working.
pub async fn confirm_removal(
    State(state): State<AppState>,
    SignedIn { visitor, user }: SignedIn,
    Path(ids): Path<(ProjectId, AccountId)>,
) -> Response {
    remove_page(&state, &visitor, &user, ids, StatusCode::OK, None)
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    csrf: String,
    /// The member to hand the keys to; empty (or absent) to let them die.
    #[serde(default)]
    reassign_keys_to: String,
}

/// "Remove <email>": the member leaves the project, and their keys in it die or, in the same
/// append, are handed to the member chosen.
pub async fn remove(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((project_id, account_id)): Path<(ProjectId, AccountId)>,
    Form(form): Form<RemoveForm>,
) -> Response {
    let user = match form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let reassign_keys_to = match form.reassign_keys_to.trim() {
        "" => None,
        text => match text.parse::<AccountId>() {
            Ok(heir) => Some(heir),
            Err(_) => {
                return remove_page(
                    &state,
                    &visitor,
                    user,
                    (project_id, account_id),
                    StatusCode::BAD_REQUEST,
                    Some("Choose a member to hand the keys to, or no one.".into()),
                )
            }
        },
    };
    let command = Command::RemoveMember {
        project_id,
        account_id,
        reassign_keys_to,
    };
    match state
        .steward
        .execute(user.principal().actor(), command)
        .await
    {
        Ok(_) => Redirect::to(&here(project_id)).into_response(),
        Err(error) => remove_page(
            &state,
            &visitor,
            user,
            (project_id, account_id),
            status_of(&error),
            Some(refusal(&error)),
        ),
    }
}
