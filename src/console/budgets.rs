//! Budgets: each tag's spend this UTC month beside its budget, "Set Budget" (monthly USD, hard
//! or soft) and removing one. The reads and commands are the JSON API's: reading needs
//! billing:read, setting and removing billing:write.

use super::{dollars, form_user, page, refusal, status_of, when, Chrome, SignedIn, User, Visitor};
use crate::{
    domain::{as_sentence, Command, DomainError, TagBudget},
    http::AppState,
    processor::CommandError,
    reads::{ReadError, TagMonth},
};
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
    Form,
};
use serde::Deserialize;
use steward_events::{Nanodollars, Permission, ProjectId, Tag, Timestamp};

/// Tags on one page of the view.
const TAGS_PER_PAGE: usize = 100;

struct TagRow {
    tag: String,
    spent: String,
    budget: String,
    kind: &'static str,
    /// Where the spend stands against the budget, in words.
    standing: String,
    has_budget: bool,
}

/// What "Set Budget" was given, to show again beside its errors.
#[derive(Debug, Default, Deserialize)]
pub struct BudgetForm {
    csrf: String,
    tag: String,
    monthly_usd: String,
    /// The checkbox: present (`on`) for a hard budget.
    #[serde(default)]
    hard: Option<String>,
}

#[derive(Default)]
struct FieldErrors {
    tag: Option<String>,
    monthly_usd: Option<String>,
}

#[derive(Template)]
#[template(path = "budgets.html")]
struct BudgetsPage {
    chrome: Chrome,
    project_id: ProjectId,
    month: String,
    tags: Vec<TagRow>,
    /// The `after` of the next page, when there is one.
    next_after: Option<String>,
    can_write: bool,
    form: BudgetForm,
    errors: FieldErrors,
    notice: Option<String>,
}

fn here(project_id: ProjectId) -> String {
    format!("/console/projects/{project_id}/budgets")
}

/// Where a tag's spend stands against its budget.
fn standing(line: &TagMonth, month_start: Timestamp) -> String {
    let Some(budget) = line.budget else {
        return String::new();
    };
    if budget.is_reached_by(line.spent) {
        return "reached: its requests are refused".into();
    }
    if budget.was_passed_in(month_start) {
        return "passed".into();
    }
    match budget.monthly.get() {
        0 => "reached".into(),
        monthly => format!(
            "{}% used",
            i128::from(line.spent.get()) * 100 / i128::from(monthly)
        ),
    }
}

fn budgets_page(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    (project_id, after): (ProjectId, Option<&Tag>),
    status: StatusCode,
    (form, errors, notice): (BudgetForm, FieldErrors, Option<String>),
) -> Response {
    let principal = user.principal();
    let listing = (state.steward).tags_this_month(&principal, project_id, after, TAGS_PER_PAGE);
    let (access, listing) = match (state.steward.access(&principal, project_id), listing) {
        (Ok(access), Ok(listing)) => (access, listing),
        (Ok(_), Err(ReadError::Access(crate::access::AccessError::InsufficientPermissions))) => {
            return super::message(
                state,
                visitor,
                StatusCode::FORBIDDEN,
                "Budgets",
                "Your role in this project may not see its billing.",
            )
        }
        _ => return super::project_not_found(state, visitor),
    };
    let month_start = listing.month_start;
    let tags = (listing.tags.iter())
        .map(|line| TagRow {
            tag: line.tag.to_string(),
            spent: dollars(line.spent),
            budget: line
                .budget
                .map_or(String::new(), |budget| dollars(budget.monthly)),
            kind: match line.budget {
                Some(budget) if budget.hard => "hard",
                Some(_) => "soft",
                None => "",
            },
            standing: standing(line, month_start),
            has_budget: line.budget.is_some(),
        })
        .collect();
    let template = BudgetsPage {
        chrome: Chrome::of(state, visitor, Some(project_id)),
        project_id,
        month: when(month_start),
        tags,
        next_after: listing.next_after.map(|tag| tag.to_string()),
        can_write: access.permissions.contains(Permission::BillingWrite),
        form,
        errors,
        notice,
    };
    page(status, template)
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    after: Option<String>,
}

/// The Budgets view, a page of tags at a time.
pub async fn show(
    State(state): State<AppState>,
    SignedIn { visitor, user }: SignedIn,
    Path(project_id): Path<ProjectId>,
    Query(query): Query<PageQuery>,
) -> Response {
    let after = match query.after.as_deref().map(Tag::parse).transpose() {
        Ok(after) => after,
        Err(error) => {
            return super::message(
                &state,
                &visitor,
                StatusCode::BAD_REQUEST,
                "Budgets",
                &format!("The page asked for starts after a tag that is not valid: {error}."),
            )
        }
    };
    let outcome = (BudgetForm::default(), FieldErrors::default(), None);
    let ids = (project_id, after.as_ref());
    budgets_page(&state, &visitor, &user, ids, StatusCode::OK, outcome)
}

/// The command a "Set Budget" form asks for, or its errors beside their fields.
fn command(form: &BudgetForm, project_id: ProjectId) -> Result<Command, FieldErrors> {
    let mut errors = FieldErrors::default();
    let tag = Tag::parse(form.tag.trim())
        .map_err(|error| errors.tag = Some(as_sentence(&error.to_string())))
        .ok();
    let monthly = Nanodollars::parse_usd(form.monthly_usd.trim().trim_start_matches('$'));
    if monthly.is_none() {
        errors.monthly_usd = Some(
            "Give the monthly budget in USD, such as 250 or 99.50 (at most 9 decimals).".into(),
        );
    }
    match (tag, monthly) {
        (Some(tag), Some(monthly)) => Ok(Command::SetTagBudget {
            project_id,
            tag,
            budget: Some(TagBudget {
                monthly,
                hard: form.hard.is_some(),
            }),
        }),
        _ => Err(errors),
    }
}

/// "Set Budget": the tag's budget from now on, against what it already spent this month.
pub async fn set(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(project_id): Path<ProjectId>,
    Form(form): Form<BudgetForm>,
) -> Response {
    let user = match form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let ids = (project_id, None);
    let command = match command(&form, project_id) {
        Ok(command) => command,
        Err(errors) => {
            let outcome = (form, errors, None);
            return budgets_page(
                &state,
                &visitor,
                user,
                ids,
                StatusCode::BAD_REQUEST,
                outcome,
            );
        }
    };
    let result = (state.steward)
        .execute(user.principal().actor(), command)
        .await;
    match result {
        Ok(_) => {
            let notice = format!("The budget of {} is set.", form.tag.trim());
            let outcome = (BudgetForm::default(), FieldErrors::default(), Some(notice));
            budgets_page(&state, &visitor, user, ids, StatusCode::OK, outcome)
        }
        Err(error) => {
            let status = status_of(&error);
            let outcome = (form, field_errors(&error), None);
            budgets_page(&state, &visitor, user, ids, status, outcome)
        }
    }
}

/// A refused budget's error, beside the field it concerns (or above the form).
fn field_errors(error: &CommandError) -> FieldErrors {
    let sentence = refusal(error);
    match error {
        CommandError::Domain(DomainError::InvalidBudget) => FieldErrors {
            monthly_usd: Some(sentence),
            ..FieldErrors::default()
        },
        _ => FieldErrors {
            tag: Some(sentence),
            ..FieldErrors::default()
        },
    }
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    csrf: String,
    tag: String,
}

/// "Remove": the tag has no budget from now on; its spend stays counted.
pub async fn remove(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(project_id): Path<ProjectId>,
    Form(form): Form<RemoveForm>,
) -> Response {
    let user = match form_user(&state, &visitor, &here(project_id), &form.csrf) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let outcome = match Tag::parse(form.tag.trim()) {
        Ok(tag) => {
            let command = Command::SetTagBudget {
                project_id,
                tag,
                budget: None,
            };
            (state.steward)
                .execute(user.principal().actor(), command)
                .await
                .map(drop)
        }
        Err(_) => Err(DomainError::BudgetNotFound.into()),
    };
    let (status, notice) = match outcome {
        Ok(()) => (
            StatusCode::OK,
            format!("The budget of {} was removed.", form.tag.trim()),
        ),
        Err(error) => (status_of(&error), refusal(&error)),
    };
    let outcome = (BudgetForm::default(), FieldErrors::default(), Some(notice));
    budgets_page(&state, &visitor, user, (project_id, None), status, outcome)
}
