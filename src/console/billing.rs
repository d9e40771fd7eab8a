//! Billing: the project's balances in the order they will be spent (amount, source, expiry),
//! its purchases, and a transfer to another of the person's projects where they hold
//! billing:write in both. The reads and the transfer are the JSON API's; promotional credit
//! stays (support moves it), as the domain decides.

use super::{
    dollars, form_user, page, project_not_found, refusal, status_of, when, Chrome, SignedIn,
};
use super::{User, Visitor};
use crate::{
    domain::{Command, DomainError, TransferAmount},
    http::AppState,
    processor::CommandError,
    reads::ProjectListing,
};
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    Form,
};
use serde::Deserialize;
use steward_events::{Nanodollars, Permission, ProjectId, TransferId};
use uuid::Uuid;

struct BalanceRow {
    /// 1 for the balance spent first.
    order: usize,
    amount: String,
    source: &'static str,
    expires: String,
}

struct PurchaseRow {
    date: String,
    source: &'static str,
    amount: String,
    remaining: String,
    reference: String,
    /// "transferred in" for credit that arrived from another project.
    how: &'static str,
}

#[derive(Debug, Default, Deserialize)]
pub struct TransferForm {
    csrf: String,
    to_project_id: String,
    amount: String,
}

#[derive(Default)]
struct FieldErrors {
    to_project: Option<String>,
    amount: Option<String>,
}

#[derive(Template)]
#[template(path = "billing.html")]
struct BillingPage {
    chrome: Chrome,
    project: ProjectListing,
    balances: Vec<BalanceRow>,
    total: String,
    purchases: Vec<PurchaseRow>,
    /// The other projects the person may move credit to (billing:write in both); empty when
    /// they may not move credit out of this one.
    targets: Vec<ProjectListing>,
    form: TransferForm,
    errors: FieldErrors,
    notice: Option<String>,
}

impl BillingPage {
    fn chosen(&self, project_id: &ProjectId) -> bool {
        self.form.to_project_id == project_id.to_string()
    }
}

fn here(project_id: ProjectId) -> String {
    format!("/console/projects/{project_id}/billing")
}

#[derive(Default)]
struct Outcome {
    form: TransferForm,
    errors: FieldErrors,
    notice: Option<String>,
}

fn billing_page(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    project_id: ProjectId,
    status: StatusCode,
    outcome: Outcome,
) -> Response {
    let principal = user.principal();
    let Ok(project) = state.steward.project(&principal, project_id) else {
        return project_not_found(state, visitor);
    };
    let now = state.steward.now();
    let (Ok(balances), Ok(orders)) = (
        state.steward.balances(&principal, project_id, now),
        state.steward.orders(&principal, project_id),
    ) else {
        return super::message(
            state,
            visitor,
            StatusCode::FORBIDDEN,
            "Billing",
            "Your role in this project may not see its billing.",
        );
    };
    let total: Nanodollars = balances.iter().map(|(_, grant)| grant.remaining).sum();
    let may_move = |project_id| {
        (state.steward)
            .require(&principal, project_id, Permission::BillingWrite)
            .is_ok()
    };
    let targets = if may_move(project_id) {
        (state.steward.projects(&principal).into_iter())
            .filter(|other| other.project_id != project_id && may_move(other.project_id))
            .collect()
    } else {
        Vec::new()
    };
    let template = BillingPage {
        chrome: Chrome::of(state, visitor, Some(project_id)),
        project: ProjectListing {
            project_id,
            name: project.name,
        },
        // A spent balance shows under the purchases, with nothing left.
        balances: (balances
            .iter()
            .filter(|(_, grant)| grant.remaining.get() > 0))
        .enumerate()
        .map(|(index, (_, grant))| BalanceRow {
            order: index + 1,
            amount: dollars(grant.remaining),
            source: grant.source.name(),
            expires: grant.expires_at.map(when).unwrap_or_else(|| "never".into()),
        })
        .collect(),
        total: dollars(total),
        purchases: (orders.iter().rev())
            .map(|(_, grant)| PurchaseRow {
                date: when(grant.created_at),
                source: grant.source.name(),
                amount: dollars(grant.original),
                remaining: dollars(grant.remaining),
                reference: grant.reference.clone().unwrap_or_default(),
                how: if grant.transfer_id.is_some() {
                    "transferred in"
                } else {
                    "granted"
                },
            })
            .collect(),
        targets,
        form: outcome.form,
        errors: outcome.errors,
        notice: outcome.notice,
    };
    page(status, template)
}

/// The Billing view.
pub async fn show(
    State(state): State<AppState>,
    SignedIn { visitor, user }: SignedIn,
    Path(project_id): Path<ProjectId>,
) -> Response {
    billing_page(
        &state,
        &visitor,
        &user,
        project_id,
        StatusCode::OK,
        Outcome::default(),
    )
}

/// A refused transfer's error, beside the field it concerns.
fn field_errors(error: &CommandError) -> FieldErrors {
    let sentence = refusal(error);
    match error {
        CommandError::Domain(
            DomainError::SameProject
            | DomainError::ProjectNotFound
            | DomainError::InsufficientPermissions,
        ) => FieldErrors {
            to_project: Some(sentence),
            amount: None,
        },
        _ => FieldErrors {
            to_project: None,
            amount: Some(sentence),
        },
    }
}

/// "Transfer": moves an amount, in spending order, to another of the person's projects.
pub async fn transfer(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(project_id): Path<ProjectId>,
    Form(form): Form<TransferForm>,
) -> Response {
    let user = match form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let to_project_id = form.to_project_id.parse::<ProjectId>().ok();
    let amount = Nanodollars::parse_usd(form.amount.trim().trim_start_matches('$'));
    let mut errors = FieldErrors::default();
    if to_project_id.is_none() {
        errors.to_project = Some("Choose the project to move credit to.".into());
    }
    if amount.is_none() {
        errors.amount =
            Some("Give an amount in USD, such as 25 or 12.50 (at most 9 decimals).".into());
    }
    let (Some(to_project_id), Some(amount)) = (to_project_id, amount) else {
        let outcome = Outcome {
            form,
            errors,
            notice: None,
        };
        return billing_page(
            &state,
            &visitor,
            user,
            project_id,
            StatusCode::BAD_REQUEST,
            outcome,
        );
    };
    let command = Command::TransferCredits {
        transfer_id: TransferId::from_uuid(Uuid::now_v7()),
        from_project_id: project_id,
        to_project_id,
        amount: TransferAmount::Amount(amount),
    };
    let outcome = match (state.steward)
        .execute(user.principal().actor(), command)
        .await
    {
        Ok(_) => {
            let to = (state.steward.project(&user.principal(), to_project_id))
                .map(|project| project.name)
                .unwrap_or_default();
            let notice = format!("{} moved to {to}, keeping its expiry.", dollars(amount));
            (
                StatusCode::OK,
                Outcome {
                    notice: Some(notice),
                    ..Outcome::default()
                },
            )
        }
        Err(error) => (
            status_of(&error),
            Outcome {
                errors: field_errors(&error),
                form,
                notice: None,
            },
        ),
    };
    billing_page(&state, &visitor, user, project_id, outcome.0, outcome.1)
}
