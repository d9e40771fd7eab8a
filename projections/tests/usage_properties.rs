//! Property tests of the usage projection: what a business bills its customers per tag adds up.

use proptest::prelude::*;
use steward_events::*;
use steward_projections::{
    usage::{
        query::{Period, Selection, TagCounting, UsageFilter, UsageQuery},
        Day, Usage,
    },
    Projection,
};
use uuid::Uuid;

const TAGS: [&str; 3] = ["apple", "banana", "pear"];
const FEATURES: [Feature; 3] = [Feature::Diarize, Feature::Punctuate, Feature::SmartFormat];
const FIRST_DAY: i64 = 20_400;

#[derive(Clone, Debug)]
struct Request {
    day: i64,
    tags: Vec<usize>,
    cost: i64,
    features: FeatureSet,
}

fn features() -> impl Strategy<Value = FeatureSet> {
    prop::collection::btree_set(0..FEATURES.len(), 0..=FEATURES.len())
        .prop_map(|indexes| indexes.into_iter().map(|index| FEATURES[index]).collect())
}

fn request(max_tags: usize) -> impl Strategy<Value = Request> {
    (
        0i64..60,
        prop::collection::btree_set(0..TAGS.len(), 0..=max_tags),
        0i64..5_000_000_000,
        features(),
    )
        .prop_map(|(day, tags, cost, features)| Request {
            day,
            tags: tags.into_iter().collect(),
            cost,
            features,
        })
}

fn project() -> ProjectId {
    ProjectId::from_uuid(Uuid::from_u128(1))
}

fn usage_of(requests: &[Request]) -> Usage {
    let mut usage = Usage::default();
    for (index, request) in requests.iter().enumerate() {
        let position = index as u64 + 1;
        let event = Event::UsageRecorded {
            project_id: project(),
            request_id: RequestId::from_uuid(Uuid::from_u128(u128::from(position))),
            key_id: KeyId::from_uuid(Uuid::from_u128(7)),
            tags: request
                .tags
                .iter()
                .map(|&tag| Tag::parse(TAGS[tag]).unwrap())
                .collect(),
            endpoint: Endpoint::Listen,
            method: RequestMethod::Sync,
            model: "nova-3".into(),
            deployment: Deployment::Hosted,
            units: UsageUnits {
                audio_milliseconds: 1000,
                ..UsageUnits::default()
            },
            cost: Nanodollars::new(request.cost),
            status_code: 200,
            features: request.features.iter().collect(),
        };
        usage.apply(&Envelope {
            position,
            stream: event.stream(),
            stream_version: position,
            event_id: EventId::from_uuid(Uuid::from_u128(u128::from(position))),
            recorded_at: Day(FIRST_DAY + request.day).start().plus_seconds(3600),
            actor: Actor::System,
            correlation_id: Uuid::nil(),
            schema_version: codec::SCHEMA_VERSION,
            event,
        });
    }
    usage
}

proptest! {
    #[test]
    fn with_at_most_one_tag_per_request_tags_plus_untagged_equal_the_total(
        requests in prop::collection::vec(request(1), 0..200),
        from in 0i64..60,
        length in 0i64..60,
    ) {
        let usage = usage_of(&requests);
        let (from, to) = (Day(FIRST_DAY + from), Day(FIRST_DAY + from + length));
        let breakdown = usage
            .project(project())
            .map(|usage| usage.by_tag(from, to))
            .unwrap_or_default();
        let tagged: Nanodollars = breakdown.tags.values().map(|cell| cell.cost).sum();
        prop_assert_eq!(tagged + breakdown.untagged.cost, breakdown.total.cost);
        let expected: Nanodollars = requests
            .iter()
            .filter(|request| (from.0..to.0).contains(&(FIRST_DAY + request.day)))
            .map(|request| Nanodollars::new(request.cost))
            .sum();
        prop_assert_eq!(breakdown.total.cost, expected);
    }

    #[test]
    fn a_request_with_several_tags_counts_under_each_and_once_in_the_total(
        requests in prop::collection::vec(request(3), 0..200),
    ) {
        let usage = usage_of(&requests);
        let breakdown = usage
            .project(project())
            .map(|usage| usage.by_tag(Day(FIRST_DAY), Day(FIRST_DAY + 60)))
            .unwrap_or_default();
        for (index, name) in TAGS.iter().enumerate() {
            let expected: Nanodollars = requests
                .iter()
                .filter(|request| request.tags.contains(&index))
                .map(|request| Nanodollars::new(request.cost))
                .sum();
            let got = breakdown
                .tags
                .get(&Tag::parse(name).unwrap())
                .map(|cell| cell.cost)
                .unwrap_or_default();
            prop_assert_eq!(got, expected);
        }
        let total: Nanodollars = requests.iter().map(|request| Nanodollars::new(request.cost)).sum();
        prop_assert_eq!(breakdown.total.cost, total);
        prop_assert_eq!(breakdown.total.requests, requests.len() as u64);
    }

    /// `feature=true` keeps the requests that used any of the trues; `feature=false` drops
    /// those that used any of the falses.
    #[test]
    fn feature_filters_keep_any_true_and_drop_every_false(
        requests in prop::collection::vec(request(1), 0..200),
        used in features(),
        unused in features(),
    ) {
        let usage = usage_of(&requests);
        let query = UsageQuery {
            period: Period {
                start: Day(FIRST_DAY).start(),
                end: Day(FIRST_DAY + 60).start(),
            },
            filter: UsageFilter {
                features_used: used,
                features_unused: unused,
                ..UsageFilter::default()
            },
            counting: TagCounting::Once,
        };
        let Some(project) = usage.project(project()) else {
            prop_assert!(requests.is_empty());
            return Ok(());
        };
        let Selection::Rows(rows) = project.select(&query) else {
            panic!("no tag filter: the cells answer");
        };
        let got: Nanodollars = rows.iter().map(|row| row.cell.cost).sum();
        let expected: Nanodollars = requests
            .iter()
            .filter(|request| used.is_empty() || request.features.intersects(used))
            .filter(|request| !request.features.intersects(unused))
            .map(|request| Nanodollars::new(request.cost))
            .sum();
        prop_assert_eq!(got, expected);
    }
}
