//! The Audit Log (owners and admins): the project's events, newest first, each as a sentence
//! ("Olive invited mia@fruit.example as member"), filtered by type, actor and time, paged. The
//! query is the JSON API's (`GET /v1/projects/{project_id}/audit`), parameters and all.

use super::{dollars, page, project_not_found, when, Chrome, SignedIn};
use crate::{
    http::{
        audit::{parse_query, AuditQuery},
        AppState,
    },
    models::ModelCatalog,
    reads::{AuditNames, ProjectListing},
};
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use steward_events::{
    AccountId, Actor, Envelope, Event, KeyId, Nanodollars, ProjectId, RemovalReason,
};

/// The audit log's page size in the console.
const AUDIT_PAGE_ROWS: usize = 50;

struct AuditRow {
    at: String,
    kind: &'static str,
    sentence: String,
}

/// The filters as the form sends them: an empty field filters nothing.
#[derive(Debug, Default, Deserialize)]
pub struct AuditForm {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    cursor: String,
}

impl AuditForm {
    fn given(text: &str) -> Option<String> {
        Some(text.trim().to_owned()).filter(|text| !text.is_empty())
    }

    fn query(&self) -> AuditQuery {
        AuditQuery {
            kind: Self::given(&self.kind),
            actor: Self::given(&self.actor),
            start: Self::given(&self.start),
            end: Self::given(&self.end),
            limit: Some(AUDIT_PAGE_ROWS),
            page: None,
            cursor: Self::given(&self.cursor),
        }
    }

    /// The query string of the page after this one.
    fn next(&self, cursor: u64) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("type", &self.kind),
            ("actor", &self.actor),
            ("start", &self.start),
            ("end", &self.end),
        ] {
            if !value.trim().is_empty() {
                query.append_pair(name, value.trim());
            }
        }
        query.append_pair("cursor", &cursor.to_string());
        query.finish()
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    project: ProjectListing,
    rows: Vec<AuditRow>,
    kinds: &'static [&'static str],
    /// The people who may be chosen as actor: (account id, name).
    actors: Vec<(String, String)>,
    form: AuditForm,
    error: Option<String>,
    next: Option<String>,
    paged: bool,
}

impl AuditPage {
    fn same(&self, a: &str, b: &str) -> bool {
        a == b
    }
}

/// The Audit Log view.
pub async fn show(
    State(state): State<AppState>,
    SignedIn { visitor, user }: SignedIn,
    Path(project_id): Path<ProjectId>,
    Query(form): Query<AuditForm>,
) -> Response {
    let principal = user.principal();
    let Ok(project) = state.steward.project(&principal, project_id) else {
        return project_not_found(&state, &visitor);
    };
    let refused = |status, text: &str| super::message(&state, &visitor, status, "Audit Log", text);
    let (status, error, envelopes) = match parse_query(form.query()) {
        Ok((filter, page)) => match state
            .steward
            .audit(&principal, project_id, filter, page)
            .await
        {
            Ok(envelopes) => (StatusCode::OK, None, envelopes),
            Err(error) => {
                let error = crate::http::error::ApiError::from(error);
                return refused(error.status, &super::api_refusal(&error));
            }
        },
        Err(error) => (
            StatusCode::BAD_REQUEST,
            Some(crate::domain::as_sentence(&error.message)),
            crate::reads::PageOf {
                items: Vec::new(),
                next: None,
            },
        ),
    };
    let Ok(names) = state
        .steward
        .audit_names(&principal, project_id, &envelopes.items)
    else {
        return refused(
            StatusCode::FORBIDDEN,
            "Your role in this project may not read its audit log.",
        );
    };
    // Everyone who has been a member, so that a removed member's actions can be found too.
    let people = (state.steward.members_ever(&principal, project_id)).unwrap_or_default();
    let rows = (envelopes.items.iter())
        .map(|envelope| AuditRow {
            at: when(envelope.recorded_at),
            kind: envelope.event.kind(),
            sentence: sentence(envelope, project_id, &names, &state.models),
        })
        .collect();
    let template = AuditPage {
        chrome: Chrome::of(&state, &visitor, Some(project_id)),
        project: ProjectListing {
            project_id,
            name: project.name,
        },
        rows,
        kinds: Event::KINDS,
        actors: people
            .into_iter()
            .map(|(account_id, email)| {
                let name = match email.as_str() {
                    "" => format!("account {account_id} (deleted)"),
                    _ => email,
                };
                (account_id.to_string(), name)
            })
            .collect(),
        next: envelopes.next.map(|cursor| form.next(cursor)),
        paged: !form.cursor.trim().is_empty(),
        form,
        error,
    };
    page(status, template)
}

/// What a person is called in a sentence: their first name, else their email.
fn person(names: &AuditNames, account_id: AccountId) -> String {
    match names.people.get(&account_id) {
        Some(person) if !person.first_name.trim().is_empty() => person.first_name.clone(),
        Some(person) if !person.email.is_empty() => person.email.clone(),
        _ => format!("account {account_id}"),
    }
}

fn key(names: &AuditNames, key_id: KeyId) -> String {
    match names.keys.get(&key_id).map(String::as_str) {
        Some("") | None => format!("API key {key_id}"),
        Some(comment) => format!("API key \u{201c}{comment}\u{201d}"),
    }
}

fn actor(names: &AuditNames, actor: &Actor) -> String {
    match *actor {
        Actor::Account(account_id) => person(names, account_id),
        Actor::Key { key_id, account_id } => {
            format!(
                "{} (with {})",
                person(names, account_id),
                key(names, key_id)
            )
        }
        Actor::Operator => "Support".into(),
        Actor::System => "Steward".into(),
    }
}

/// A project as the log of `here` names it.
fn project(names: &AuditNames, here: ProjectId, project_id: ProjectId) -> String {
    match names.projects.get(&project_id) {
        _ if project_id == here => "this project".into(),
        Some(name) => format!("the project {name}"),
        None => "another project".into(),
    }
}

/// `text` with its first letter in upper case.
fn sentence_case_start(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => format!("{}{}", first.to_uppercase(), characters.as_str()),
        None => String::new(),
    }
}

fn model(models: &ModelCatalog, model_id: steward_events::ModelId) -> String {
    match models.get(model_id) {
        Some(entry) => entry.model.name().to_owned(),
        None => model_id.to_string(),
    }
}

/// An audit entry of the log of project `here` as a sentence a person reads.
fn sentence(
    envelope: &Envelope,
    here: ProjectId,
    names: &AuditNames,
    models: &ModelCatalog,
) -> String {
    let who = actor(names, &envelope.actor);
    let sum = |amounts: &mut dyn Iterator<Item = Nanodollars>| dollars(amounts.sum());
    match &envelope.event {
        Event::AccountRegistered { email, .. } => format!("{email} signed up"),
        Event::AccountDeleted { account_id } => {
            format!("{} deleted their account", person(names, *account_id))
        }
        Event::ProjectCreated {
            name, created_by, ..
        } => format!("{} created the project {name}", person(names, *created_by)),
        Event::ProjectRenamed { name, .. } => format!("{who} renamed the project to {name}"),
        Event::ProjectCompanyChanged { company, .. } => {
            format!("{who} set the company to {company}")
        }
        Event::ProjectDeleted { .. } => format!("{who} deleted the project"),
        Event::MemberInvited {
            email,
            role,
            invited_by,
            ..
        } => format!("{} invited {email} as {role}", person(names, *invited_by)),
        Event::InvitationResent { email, .. } => {
            format!("{who} resent the invitation to {email}")
        }
        Event::InvitationRevoked { email, .. } => {
            format!("{who} revoked the invitation to {email}")
        }
        Event::InvitationAccepted {
            email, account_id, ..
        } => format!(
            "{} accepted the invitation sent to {email}",
            person(names, *account_id)
        ),
        Event::MemberJoined {
            account_id, role, ..
        } => format!("{} joined as {role}", person(names, *account_id)),
        Event::RoleChanged {
            account_id,
            from,
            to,
            ..
        } => format!(
            "{who} changed the role of {} from {from} to {to}",
            person(names, *account_id)
        ),
        Event::MemberRemoved {
            account_id,
            reason: RemovalReason::Kicked,
            ..
        } => format!("{who} removed {}", person(names, *account_id)),
        Event::MemberRemoved {
            account_id,
            reason: RemovalReason::AccountDeleted,
            ..
        } => format!(
            "{} left the project when their account was deleted",
            person(names, *account_id)
        ),
        Event::MemberLeft { account_id, .. } => {
            format!("{} left the project", person(names, *account_id))
        }
        Event::ApiKeyCreated {
            key_id,
            created_by,
            scopes,
            ..
        } => {
            let scopes: Vec<&str> = scopes.iter().map(|scope| scope.name()).collect();
            format!(
                "{} created the {} ({})",
                person(names, *created_by),
                key(names, *key_id),
                scopes.join(", ")
            )
        }
        Event::ApiKeyDeleted { key_id, .. } => format!("{who} deleted the {}", key(names, *key_id)),
        Event::CreditsGranted {
            source,
            amount,
            expires_at,
            ..
        } => {
            let expiry = match expires_at {
                Some(at) => format!(", expiring {}", when(*at)),
                None => String::new(),
            };
            format!(
                "{who} granted {} of {} credit{expiry}",
                dollars(*amount),
                source.name()
            )
        }
        // Both sides of a transfer are in both projects' logs: each says what it is.
        Event::CreditsTransferredOut {
            from_project_id,
            to_project_id,
            portions,
            ..
        } => format!(
            "{who} moved {} from {} to {}",
            sum(&mut portions.iter().map(|portion| portion.amount)),
            project(names, here, *from_project_id),
            project(names, here, *to_project_id)
        ),
        Event::CreditsTransferredIn {
            from_project_id,
            to_project_id,
            portions,
            ..
        } => sentence_case_start(&format!(
            "{} received {} from {}",
            project(names, here, *to_project_id),
            sum(&mut portions.iter().map(|portion| portion.amount)),
            project(names, here, *from_project_id)
        )),
        Event::CreditsConsumed { portions, .. } => format!(
            "A request spent {} of credit",
            sum(&mut portions.iter().map(|portion| portion.amount))
        ),
        Event::CreditsExpired { amount, .. } => {
            format!("{} of credit expired unspent", dollars(*amount))
        }
        Event::UsageRecorded {
            key_id,
            endpoint,
            model,
            cost,
            ..
        } => format!(
            "The {} made a {} request with {model}, costing {}",
            key(names, *key_id),
            endpoint.name(),
            dollars(*cost)
        ),
        Event::ModelAccessGranted { model_id, .. } => format!(
            "{who} let the project use the model {}",
            model(models, *model_id)
        ),
        Event::ModelAccessRevoked { model_id, .. } => format!(
            "{who} took the model {} away from the project",
            model(models, *model_id)
        ),
        Event::ApiKeyOwnerChanged {
            key_id, from, to, ..
        } => format!(
            "{who} handed the {} from {} to {}",
            key(names, *key_id),
            person(names, *from),
            person(names, *to)
        ),
        Event::ApiKeyRotated {
            key_id,
            previous_secret_expires_at,
            ..
        } => format!(
            "{who} rotated the secret of the {}; the previous one works until {}",
            key(names, *key_id),
            previous_secret_expires_at.to_rfc3339()
        ),
        Event::TagBudgetSet {
            tag, monthly, hard, ..
        } => format!(
            "{who} set a {} monthly budget of {} for the tag {tag}",
            if *hard { "hard" } else { "soft" },
            dollars(*monthly)
        ),
        Event::TagBudgetRemoved { tag, .. } => {
            format!("{who} removed the budget of the tag {tag}")
        }
        Event::TagBudgetPassed {
            tag,
            monthly,
            spent,
            ..
        } => format!(
            "The tag {tag} passed its soft monthly budget of {}: {} spent this month",
            dollars(*monthly),
            dollars(*spent)
        ),
    }
}
