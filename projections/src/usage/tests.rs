//! The usage queries: what a selection holds, per-tag counting, several tags, filters, periods,
//! breakdowns, billing lines and their CSV, fields, and the request log's filter.

use super::{
    query::{Period, RequestFilter, Selection, TagCounting, UsageFilter, UsageQuery},
    report::{
        billing_csv_records, billing_lines, total_cost, usage_breakdown, BillingFields,
        BillingGrouping, UsageFields, UsageFigures, UsageGrouping,
    },
    RequestView, Usage,
};
use crate::Projection;
use steward_events::*;
use uuid::Uuid;

const PROJECT: u128 = 1;
const APPLE_KEY: u128 = 7;
const PEAR_KEY: u128 = 8;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

struct Recorded {
    usage: Usage,
    envelopes: Vec<Envelope>,
}

impl Recorded {
    fn project(&self) -> &super::ProjectUsage {
        self.usage
            .project(ProjectId::from_uuid(Uuid::from_u128(PROJECT)))
            .unwrap()
    }

    /// The rows of a query, reading the project's requests back from the recorded envelopes
    /// when the selection asks for them.
    fn rows(&self, query: &UsageQuery) -> Vec<super::query::Row> {
        match self.project().select(query) {
            Selection::Rows(rows) => rows,
            Selection::Requests => self
                .project()
                .requests
                .iter()
                .flat_map(|&position| {
                    let view = RequestView::of(&self.envelopes[position as usize - 1]).unwrap();
                    query.rows_of(&view)
                })
                .collect(),
        }
    }
}

/// Five requests over two days: an apple one, an apple+pear one, a pear one (speak), an
/// untagged one, and a failed untagged one on the second day.
fn recorded() -> Recorded {
    let requests = [
        (
            "2026-11-01T10:00:00Z",
            APPLE_KEY,
            vec!["apple"],
            Endpoint::Listen,
            60_000,
            100,
        ),
        (
            "2026-11-01T11:00:00Z",
            APPLE_KEY,
            vec!["apple", "pear"],
            Endpoint::Listen,
            30_000,
            50,
        ),
        (
            "2026-11-01T12:00:00Z",
            PEAR_KEY,
            vec!["pear"],
            Endpoint::Speak,
            0,
            7,
        ),
        (
            "2026-11-02T09:00:00Z",
            PEAR_KEY,
            vec![],
            Endpoint::Listen,
            1_000,
            3,
        ),
        (
            "2026-11-02T10:00:00Z",
            PEAR_KEY,
            vec![],
            Endpoint::Listen,
            0,
            0,
        ),
    ];
    let mut usage = Usage::default();
    let mut envelopes = Vec::new();
    for (index, (time, key, tags, endpoint, audio_milliseconds, cost)) in
        requests.into_iter().enumerate()
    {
        let position = index as u64 + 1;
        let event = Event::UsageRecorded {
            project_id: ProjectId::from_uuid(Uuid::from_u128(PROJECT)),
            request_id: RequestId::from_uuid(Uuid::from_u128(100 + u128::from(position))),
            key_id: KeyId::from_uuid(Uuid::from_u128(key)),
            tags: tags
                .into_iter()
                .map(|tag| Tag::parse(tag).unwrap())
                .collect(),
            endpoint,
            method: RequestMethod::Sync,
            model: "nova-3".into(),
            deployment: Deployment::Hosted,
            units: UsageUnits {
                audio_milliseconds,
                characters: if endpoint == Endpoint::Speak { 40 } else { 0 },
                ..UsageUnits::default()
            },
            cost: Nanodollars::new(cost),
            status_code: if position == 5 { 500 } else { 200 },
            // Every other request was diarized.
            features: if position.is_multiple_of(2) {
                vec![Feature::Diarize]
            } else {
                Vec::new()
            },
        };
        let envelope = Envelope {
            position,
            stream: event.stream(),
            stream_version: position,
            event_id: EventId::from_uuid(Uuid::from_u128(u128::from(position))),
            recorded_at: at(time),
            actor: Actor::System,
            correlation_id: Uuid::nil(),
            schema_version: 1,
            event,
        };
        usage.apply(&envelope);
        envelopes.push(envelope);
    }
    Recorded { usage, envelopes }
}

fn november() -> Period {
    Period {
        start: at("2026-11-01T00:00:00Z"),
        end: at("2026-12-01T00:00:00Z"),
    }
}

fn query(filter: UsageFilter, counting: TagCounting) -> UsageQuery {
    UsageQuery {
        period: november(),
        filter,
        counting,
    }
}

fn tags(names: &[&str]) -> Vec<Tag> {
    names.iter().map(|name| Tag::parse(name).unwrap()).collect()
}

fn costs(rows: &[super::query::Row]) -> i64 {
    total_cost(rows).get()
}

#[test]
fn counted_once_every_request_of_the_period_is_summed_once() {
    let recorded = recorded();
    let rows = recorded.rows(&query(UsageFilter::default(), TagCounting::Once));
    let figures = UsageFigures::of(&rows);
    assert_eq!(figures.requests, 5);
    assert_eq!(figures.listen_milliseconds, 91_000);
    assert_eq!(figures.characters, 40);
    assert_eq!(costs(&rows), 160);
}

#[test]
fn counted_per_tag_a_request_with_two_tags_counts_under_each_and_untagged_under_none() {
    let recorded = recorded();
    let rows = recorded.rows(&query(UsageFilter::default(), TagCounting::PerTag));
    let cost_of = |tag: Option<&str>| -> i64 {
        rows.iter()
            .filter(|row| row.tag.as_ref().map(Tag::as_str) == tag)
            .map(|row| row.cell.cost.get())
            .sum()
    };
    assert_eq!(cost_of(Some("apple")), 150);
    assert_eq!(cost_of(Some("pear")), 57);
    assert_eq!(cost_of(None), 3);
}

#[test]
fn one_tag_is_answered_from_the_cells_and_several_from_the_requests() {
    let recorded = recorded();
    let one = query(
        UsageFilter {
            tags: tags(&["pear"]),
            ..UsageFilter::default()
        },
        TagCounting::Once,
    );
    assert!(matches!(
        recorded.project().select(&one),
        Selection::Rows(_)
    ));
    assert_eq!(costs(&recorded.rows(&one)), 57);

    let several = query(
        UsageFilter {
            tags: tags(&["apple", "pear"]),
            ..UsageFilter::default()
        },
        TagCounting::Once,
    );
    assert_eq!(recorded.project().select(&several), Selection::Requests);
    assert_eq!(recorded.project().requests, [1, 2, 3, 4, 5]);
    // Counted once, the apple+pear request is not counted twice.
    assert_eq!(costs(&recorded.rows(&several)), 157);
    let per_tag = UsageQuery {
        counting: TagCounting::PerTag,
        ..several
    };
    assert_eq!(costs(&recorded.rows(&per_tag)), 207);
}

#[test]
fn filters_select_by_accessor_endpoint_and_line_item() {
    let recorded = recorded();
    let key = |n| Some(KeyId::from_uuid(Uuid::from_u128(n)));
    let cost_with = |filter: UsageFilter| costs(&recorded.rows(&query(filter, TagCounting::Once)));
    let by_accessor = UsageFilter {
        accessor: key(PEAR_KEY),
        ..UsageFilter::default()
    };
    assert_eq!(cost_with(by_accessor), 10);
    let by_endpoint = UsageFilter {
        endpoint: Some(Endpoint::Speak),
        ..UsageFilter::default()
    };
    assert_eq!(cost_with(by_endpoint), 7);
    let by_line_item = UsageFilter {
        line_item: Some("listen::nova-3".into()),
        ..UsageFilter::default()
    };
    assert_eq!(cost_with(by_line_item), 153);
    let by_unknown_model = UsageFilter {
        model: Some("whisper".into()),
        ..UsageFilter::default()
    };
    assert_eq!(cost_with(by_unknown_model), 0);
}

#[test]
fn a_period_selects_whole_days_from_the_cells_and_exact_instants_from_the_requests() {
    let recorded = recorded();
    let second_day = Period {
        start: at("2026-11-02T00:00:00Z"),
        end: at("2026-11-03T00:00:00Z"),
    };
    let rows = recorded.rows(&UsageQuery {
        period: second_day,
        ..query(UsageFilter::default(), TagCounting::Once)
    });
    assert_eq!(UsageFigures::of(&rows).requests, 2);
    // Read from the requests, an instant inside a day is exact: 10:30 on the first day keeps
    // only the apple+pear request at 11:00 and the pear one at 12:00.
    let afternoon = UsageQuery {
        period: Period {
            start: at("2026-11-01T10:30:00Z"),
            end: at("2026-11-01T23:00:00Z"),
        },
        ..query(
            UsageFilter {
                tags: tags(&["apple", "pear"]),
                ..UsageFilter::default()
            },
            TagCounting::Once,
        )
    };
    assert_eq!(costs(&recorded.rows(&afternoon)), 57);
}

#[test]
fn a_breakdown_groups_per_day_and_value_with_days_clipped_to_the_period() {
    let recorded = recorded();
    let period = Period {
        start: at("2026-11-01T06:00:00Z"),
        end: at("2026-11-02T12:00:00Z"),
    };
    let rows = recorded.rows(&UsageQuery {
        period,
        ..query(UsageFilter::default(), TagCounting::PerTag)
    });
    let groups = usage_breakdown(&rows, Some(UsageGrouping::Tags), period);
    let lines: Vec<(String, Option<&str>, u64)> = groups
        .iter()
        .map(|group| {
            (
                group.period.start.to_rfc3339(),
                group.value.as_deref(),
                group.figures.requests,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("2026-11-01T06:00:00Z".to_owned(), Some("apple"), 2),
            ("2026-11-01T06:00:00Z".to_owned(), Some("pear"), 2),
            ("2026-11-02T00:00:00Z".to_owned(), None, 2),
        ]
    );
    assert_eq!(groups[2].period.end, period.end);
    let by_day = usage_breakdown(&rows, None, period);
    assert_eq!(by_day.len(), 2);
    assert_eq!(
        UsageGrouping::parse("feature_set"),
        Some(UsageGrouping::FeatureSet)
    );
    assert_eq!(UsageGrouping::parse("line_item"), None);
}

#[test]
fn billing_lines_group_by_several_dimensions_and_the_csv_ends_with_a_total() {
    let recorded = recorded();
    let rows = recorded.rows(&query(UsageFilter::default(), TagCounting::PerTag));
    let groupings = [BillingGrouping::Tags, BillingGrouping::LineItem];
    let lines = billing_lines(&rows, &groupings);
    let shown: Vec<(Option<&str>, Option<&str>, i64)> = lines
        .iter()
        .map(|line| {
            (
                line.value(&groupings, BillingGrouping::Tags),
                line.value(&groupings, BillingGrouping::LineItem),
                line.cost.get(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (None, Some("listen::nova-3"), 3),
            (Some("apple"), Some("listen::nova-3"), 150),
            (Some("pear"), Some("listen::nova-3"), 50),
            (Some("pear"), Some("speak::nova-3"), 7),
        ]
    );
    let once = recorded.rows(&query(UsageFilter::default(), TagCounting::Once));
    let records = billing_csv_records(november(), &groupings, &lines, total_cost(&once));
    assert_eq!(records.len(), 5);
    assert_eq!(records[1][6], "apple");
    assert_eq!(records[1][7], "0.00000015");
    assert_eq!(records[4][0], "total");
    assert_eq!(records[4][7], "0.00000016");
}

#[test]
fn fields_list_what_the_period_used() {
    let recorded = recorded();
    let rows = recorded.rows(&query(UsageFilter::default(), TagCounting::PerTag));
    let usage = UsageFields::of(&rows);
    assert_eq!(
        usage.tags.into_iter().collect::<Vec<_>>(),
        ["apple", "pear"]
    );
    assert_eq!(usage.methods.into_iter().collect::<Vec<_>>(), ["sync"]);
    let billing = BillingFields::of(&rows);
    assert_eq!(billing.accessors.len(), 2);
    assert_eq!(
        billing.line_items.get("speak::nova-3").map(String::as_str),
        Some("speak (nova-3)")
    );
}

#[test]
fn the_request_log_filter_wants_every_named_tag_and_the_status() {
    let recorded = recorded();
    let views: Vec<RequestView> = recorded
        .envelopes
        .iter()
        .filter_map(RequestView::of)
        .collect();
    let kept = |filter: RequestFilter| -> Vec<u64> {
        views
            .iter()
            .zip(1u64..)
            .filter(|(view, _)| filter.wants(view))
            .map(|(_, position)| position)
            .collect()
    };
    let both_tags = RequestFilter {
        tags: tags(&["apple", "pear"]),
        ..RequestFilter::default()
    };
    assert_eq!(kept(both_tags), [2]);
    let failed = RequestFilter {
        succeeded: Some(false),
        ..RequestFilter::default()
    };
    assert_eq!(kept(failed), [5]);
    let window = RequestFilter {
        start: Some(at("2026-11-01T11:00:00Z")),
        end: Some(at("2026-11-02T09:00:00Z")),
        ..RequestFilter::default()
    };
    assert_eq!(kept(window), [2, 3]);
}
