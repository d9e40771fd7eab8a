//! Usage: a month at a time, per tag and untagged (requests, audio minutes, characters,
//! tokens, cost), with a chart of the days (server-rendered SVG) and "Download CSV", which is
//! the JSON API's billing breakdown grouped by tag. The month is the API's usage query over its
//! days; cost and the CSV need billing:read, as in the API.

use super::{dollars, page, project_not_found, Chrome, SignedIn, User, Visitor};
use crate::{
    http::{billing_usage::billing_breakdown_csv, error::ApiError, query::UsageParams, AppState},
    reads::ProjectListing,
};
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{Datelike, Months, NaiveDate};
use serde::Deserialize;
use std::collections::BTreeMap;
use steward_events::{Permission, ProjectId, Tag};
use steward_projections::usage::{
    query::{Row, TagCounting},
    Cell,
};

/// A month of the calendar, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Month(NaiveDate);

impl Month {
    /// `2026-11`; only the years the API's dates take.
    fn parse(text: &str) -> Option<Self> {
        let first = NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d").ok()?;
        (2000..=9998).contains(&first.year()).then_some(Self(first))
    }

    fn of(at: steward_events::Timestamp) -> Self {
        let date = at.to_datetime().date_naive();
        Self(date.with_day(1).unwrap_or(date))
    }

    fn first_day(self) -> NaiveDate {
        self.0
    }

    fn last_day(self) -> NaiveDate {
        self.next().0.pred_opt().unwrap_or(self.0)
    }

    fn next(self) -> Self {
        Self(self.0.checked_add_months(Months::new(1)).unwrap_or(self.0))
    }

    fn previous(self) -> Self {
        Self(self.0.checked_sub_months(Months::new(1)).unwrap_or(self.0))
    }

    fn days(self) -> u32 {
        self.last_day().day()
    }

    /// The usage query's parameters for the whole month (its last day included).
    fn params(self, grouping: Option<&str>) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("start".to_owned(), self.first_day().to_string()),
            ("end".to_owned(), self.last_day().to_string()),
        ];
        pairs.extend(grouping.map(|grouping| ("grouping".to_owned(), grouping.to_owned())));
        pairs
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.0.format("%Y-%m"))
    }
}

/// One line of the table: a tag, the untagged requests, or the total.
struct UsageLine {
    label: String,
    requests: u64,
    audio_minutes: String,
    characters: u64,
    tokens: u64,
    cost: String,
}

impl UsageLine {
    fn of(label: String, cell: &Cell) -> Self {
        Self {
            label,
            requests: cell.requests,
            audio_minutes: format!("{:.2}", cell.audio_milliseconds as f64 / 60_000.0),
            characters: cell.characters,
            tokens: cell.tokens_in + cell.tokens_out,
            cost: dollars(cell.cost),
        }
    }
}

/// One bar of the chart.
struct Bar {
    x: u32,
    y: u32,
    height: u32,
    title: String,
}

/// The chart of the month's days, drawn on the server.
struct Chart {
    /// What the bars measure: "Cost" or "Requests".
    measure: &'static str,
    bars: Vec<Bar>,
    /// The top of the scale, as text.
    top: String,
    bar_width: u32,
    last_day: u32,
}

const CHART_WIDTH: u32 = 720;
const CHART_HEIGHT: u32 = 160;

impl Chart {
    fn of(month: Month, days: &BTreeMap<u32, Cell>, with_cost: bool) -> Self {
        let value = |cell: &Cell| {
            if with_cost {
                cell.cost.get().max(0).unsigned_abs()
            } else {
                cell.requests
            }
        };
        let top = days.values().map(value).max().unwrap_or(0);
        let slot = CHART_WIDTH / month.days();
        let bars = (1..=month.days())
            .filter_map(|day| {
                let cell = days.get(&day)?;
                let height = if top > 0 {
                    let share = value(cell) as f64 / top as f64;
                    (share * f64::from(CHART_HEIGHT)).round() as u32
                } else {
                    0
                };
                let date = month.first_day().with_day(day)?;
                Some(Bar {
                    x: (day - 1) * slot,
                    y: CHART_HEIGHT - height,
                    height,
                    title: {
                        let noun = if cell.requests == 1 {
                            "request"
                        } else {
                            "requests"
                        };
                        let requests = format!("{date}: {} {noun}", cell.requests);
                        if with_cost {
                            format!("{requests}, {}", dollars(cell.cost))
                        } else {
                            requests
                        }
                    },
                })
            })
            .collect();
        let top = if with_cost {
            dollars(steward_events::Nanodollars::new(
                i64::try_from(top).unwrap_or(i64::MAX),
            ))
        } else {
            format!("{top}")
        };
        Self {
            measure: if with_cost { "Cost" } else { "Requests" },
            bars,
            top,
            bar_width: slot.saturating_sub(2).max(1),
            last_day: month.days(),
        }
    }
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    chrome: Chrome,
    project: ProjectListing,
    month: String,
    previous: String,
    next: String,
    month_error: Option<String>,
    lines: Vec<UsageLine>,
    total: UsageLine,
    with_cost: bool,
    chart: Chart,
    chart_width: u32,
    chart_height: u32,
}

#[derive(Debug, Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
}

fn here(project_id: ProjectId) -> String {
    format!("/console/projects/{project_id}/usage")
}

/// The month asked for (this one by default), or the error beside the month field.
fn month_of(state: &AppState, query: &MonthQuery) -> Result<Month, String> {
    match query.month.as_deref().map(str::trim) {
        None | Some("") => Ok(Month::of(state.steward.now())),
        Some(text) => {
            Month::parse(text).ok_or_else(|| "Give a month as YYYY-MM, such as 2026-11.".into())
        }
    }
}

async fn rows(
    state: &AppState,
    user: &User,
    project_id: ProjectId,
    month: Month,
    counting: TagCounting,
) -> Result<Vec<Row>, ApiError> {
    let params = UsageParams::parse(month.params(None), &state.models)?;
    let query = params.usage_query(state.steward.now(), counting);
    Ok((state.steward)
        .usage_rows(&user.principal(), project_id, query, Permission::UsageRead)
        .await?)
}

/// The Usage view.
pub async fn show(
    State(state): State<AppState>,
    SignedIn { visitor, user }: SignedIn,
    Path(project_id): Path<ProjectId>,
    Query(query): Query<MonthQuery>,
) -> Response {
    let principal = user.principal();
    let (Ok(project), Ok(access)) = (
        state.steward.project(&principal, project_id),
        state.steward.access(&principal, project_id),
    ) else {
        return project_not_found(&state, &visitor);
    };
    let (month, month_error, status) = match month_of(&state, &query) {
        Ok(month) => (month, None, StatusCode::OK),
        Err(error) => (
            Month::of(state.steward.now()),
            Some(error),
            StatusCode::BAD_REQUEST,
        ),
    };
    let (per_tag, once) = match (
        rows(&state, &user, project_id, month, TagCounting::PerTag).await,
        rows(&state, &user, project_id, month, TagCounting::Once).await,
    ) {
        (Ok(per_tag), Ok(once)) => (per_tag, once),
        (Err(error), _) | (_, Err(error)) => {
            return super::message(
                &state,
                &visitor,
                error.status,
                "Usage",
                &super::api_refusal(&error),
            )
        }
    };
    let mut tags: BTreeMap<Option<Tag>, Cell> = BTreeMap::new();
    for row in &per_tag {
        tags.entry(row.tag.clone()).or_default().merge(&row.cell);
    }
    let mut days: BTreeMap<u32, Cell> = BTreeMap::new();
    let mut total = Cell::default();
    for row in &once {
        let day = row.day.start().to_datetime().date_naive().day();
        days.entry(day).or_default().merge(&row.cell);
        total.merge(&row.cell);
    }
    // Tagged lines first, by tag, then the untagged requests.
    let untagged = tags.remove(&None);
    let mut lines: Vec<UsageLine> = (tags.iter())
        .filter_map(|(tag, cell)| Some(UsageLine::of(tag.as_ref()?.to_string(), cell)))
        .collect();
    lines.extend(untagged.map(|cell| UsageLine::of("untagged".into(), &cell)));
    let with_cost = access.permissions.contains(Permission::BillingRead);
    let template = UsagePage {
        chrome: Chrome::of(&state, &visitor, Some(project_id)),
        project: ProjectListing {
            project_id,
            name: project.name,
        },
        month: month.to_string(),
        previous: month.previous().to_string(),
        next: month.next().to_string(),
        month_error,
        lines,
        total: UsageLine::of("Total".into(), &total),
        with_cost,
        chart: Chart::of(month, &days, with_cost),
        chart_width: CHART_WIDTH,
        chart_height: CHART_HEIGHT,
    };
    page(status, template)
}

/// "Download CSV": the billing breakdown of the month grouped by tag, as the API answers it.
pub async fn csv(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(project_id): Path<ProjectId>,
    Query(query): Query<MonthQuery>,
) -> Response {
    let back = match &query.month {
        Some(month) => format!("{}?month={month}", here(project_id)),
        None => here(project_id),
    };
    let user = match visitor.require_user(&back) {
        Ok(user) => user,
        Err(redirect) => return redirect.into_response(),
    };
    let month = match month_of(&state, &query) {
        Ok(month) => month,
        Err(error) => {
            return super::message(&state, &visitor, StatusCode::BAD_REQUEST, "Usage", &error)
        }
    };
    let params = UsageParams::parse(month.params(Some("tags")), &state.models);
    let csv = match params {
        Ok(params) => billing_breakdown_csv(&state, &user.principal(), project_id, &params).await,
        Err(error) => Err(error),
    };
    match csv {
        Ok(csv) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"usage-{month}.csv\""),
                ),
            ],
            csv,
        )
            .into_response(),
        Err(error) if error.status == StatusCode::NOT_FOUND => project_not_found(&state, &visitor),
        Err(error) => super::message(
            &state,
            &visitor,
            error.status,
            "Usage",
            &super::api_refusal(&error),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_its_days_for_the_usage_query_and_only_years_the_api_takes() {
        let february = Month::parse("2028-02").unwrap();
        assert_eq!(february.days(), 29);
        assert_eq!(
            february.params(Some("tags")),
            [
                ("start".to_owned(), "2028-02-01".to_owned()),
                ("end".to_owned(), "2028-02-29".to_owned()),
                ("grouping".to_owned(), "tags".to_owned()),
            ]
        );
        assert_eq!(february.previous().to_string(), "2028-01");
        assert_eq!(
            Month::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
        for bad in ["2026-13", "2026", "1999-12", "nov", "2026-11-01"] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }
}
