//! Tag budgets: set by whoever may change billing; a hard one refuses the request that would
//! pass it, a soft one records that it was passed, once a month.

use crate::domain::{testing::*, *};

fn set_budget(tag_name: &str, monthly: Nanodollars, hard: bool) -> Command {
    Command::SetTagBudget {
        project_id: project(FRUIT),
        tag: tag(tag_name),
        budget: Some(TagBudget { monthly, hard }),
    }
}

fn budget_set(tag_name: &str, monthly: Nanodollars, hard: bool) -> Event {
    Event::TagBudgetSet {
        project_id: project(FRUIT),
        tag: tag(tag_name),
        monthly,
        hard,
    }
}

/// The funded Fruit Company, its member's apple key having spent $3 this month (January).
fn spent_three() -> Given {
    given(funded())
        .at(days(1))
        .and_at(days(1), apple_request(1, usd(3)))
}

/// What recording request `n` of the apple key, costing `cost`, records: the request and its
/// payment from the card balance.
fn apple_request(n: u128, cost: Nanodollars) -> Vec<Event> {
    given(funded())
        .at(days(1))
        .when(key_of(MEMBER, 1), usage(n, cost, 200, &[]))
        .events()
}

#[test]
fn owners_set_and_remove_budgets() {
    given(funded())
        .when(person(OWNER), set_budget("apple", usd(5), true))
        .then(vec![budget_set("apple", usd(5), true)]);
    // Admins and members may not change billing.
    for who in [ADMIN, MEMBER] {
        given(funded())
            .when(person(who), set_budget("apple", usd(5), true))
            .then_err(DomainError::InsufficientPermissions);
    }
    given(funded())
        .when(
            person(OWNER),
            set_budget("apple", Nanodollars::new(-1), true),
        )
        .then_err(DomainError::InvalidBudget);
    let history = with(funded(), [budget_set("apple", usd(5), true)]);
    given(history.clone())
        .when(person(OWNER), set_budget("apple", usd(5), true))
        .then(vec![]);
    let remove = |tag_name: &str| Command::SetTagBudget {
        project_id: project(FRUIT),
        tag: tag(tag_name),
        budget: None,
    };
    given(history.clone())
        .when(person(OWNER), remove("apple"))
        .then(vec![Event::TagBudgetRemoved {
            project_id: project(FRUIT),
            tag: tag("apple"),
        }]);
    given(history)
        .when(person(OWNER), remove("pear"))
        .then_err(DomainError::BudgetNotFound);
}

#[test]
fn a_hard_budget_refuses_the_request_that_would_pass_it() {
    let given = || spent_three().and_at(days(1), [budget_set("apple", usd(5), true)]);
    // $3 + $2 reaches the budget exactly: recorded.
    given()
        .when(key_of(MEMBER, 1), usage(2, usd(2), 200, &[]))
        .events();
    // $3 + $2.01 would pass it: refused, naming the tag.
    given()
        .when(
            key_of(MEMBER, 1),
            usage(2, usd(2) + Nanodollars::new(10_000_000), 200, &[]),
        )
        .then_err(DomainError::TagBudgetExceeded(tag("apple")));
    // A request's own tag is held to its budget too.
    spent_three()
        .and_at(days(1), [budget_set("batch", usd(1), true)])
        .when(key_of(MEMBER, 1), usage(2, usd(2), 200, &["batch"]))
        .then_err(DomainError::TagBudgetExceeded(tag("batch")));
    // A failed request costs nothing and passes no budget.
    given()
        .when(key_of(MEMBER, 1), usage(2, usd(9), 500, &[]))
        .events();
}

#[test]
fn budgets_start_again_each_utc_month() {
    // January's $3 does not count in February.
    let february = Timestamp::parse_rfc3339("2026-02-01T00:00:00Z").unwrap();
    spent_three()
        .and_at(days(1), [budget_set("apple", usd(4), true)])
        .at(february)
        .when(key_of(MEMBER, 1), usage(2, usd(4), 200, &[]))
        .events();
}

#[test]
fn a_soft_budget_records_the_request_and_that_it_passed_once_a_month() {
    let given = || spent_three().and_at(days(1), [budget_set("apple", usd(4), false)]);
    let events = given()
        .when(key_of(MEMBER, 1), usage(2, usd(2), 200, &[]))
        .events();
    assert!(matches!(events[0], Event::UsageRecorded { .. }));
    assert!(matches!(events[1], Event::CreditsConsumed { .. }));
    assert_eq!(
        events[2],
        Event::TagBudgetPassed {
            project_id: project(FRUIT),
            tag: tag("apple"),
            month_start: start(),
            monthly: usd(4),
            spent: usd(5),
        }
    );
    // Once passed this month, a further request is recorded with no second notice.
    let later = given()
        .and_at(days(1), events)
        .when(key_of(MEMBER, 1), usage(3, usd(1), 200, &[]))
        .events();
    assert!(matches!(later[0], Event::UsageRecorded { .. }));
    assert!(!later
        .iter()
        .any(|event| matches!(event, Event::TagBudgetPassed { .. })));
}

/// The funded Fruit Company in January, its requests having carried `count` distinct tags this
/// month: its key's "apple", then "t1", "t2", ….
fn tags_used(count: usize) -> Given {
    let mut recorded = apple_request(1, Nanodollars::ZERO);
    let Event::UsageRecorded { tags, .. } = &mut recorded[0] else {
        panic!("a request records its usage first");
    };
    tags.extend((1..count).map(|n| tag(&format!("t{n}"))));
    given(funded()).at(days(1)).and_at(days(1), recorded)
}

#[test]
fn a_month_holds_at_most_its_limit_of_distinct_tags_and_its_own_tags_always_pass() {
    let max = crate::limits::TAGS_PER_PROJECT_MONTH_MAX;
    // One tag short of the limit: one new tag is recorded, two are refused.
    tags_used(max - 1)
        .when(key_of(MEMBER, 1), usage(2, usd(1), 200, &["new"]))
        .events();
    tags_used(max - 1)
        .when(key_of(MEMBER, 1), usage(2, usd(1), 200, &["new", "newer"]))
        .then_err(DomainError::TooManyTagsThisMonth);
    // At the limit: a tag used this month is recorded, failed requests' tags count too.
    tags_used(max)
        .when(key_of(MEMBER, 1), usage(2, usd(1), 200, &["t1", "t7"]))
        .events();
    tags_used(max)
        .when(key_of(MEMBER, 1), usage(2, usd(1), 500, &["new"]))
        .then_err(DomainError::TooManyTagsThisMonth);
    // The next month starts from none.
    let february = Timestamp::parse_rfc3339("2026-02-01T00:00:00Z").unwrap();
    tags_used(max)
        .at(february)
        .when(key_of(MEMBER, 1), usage(2, usd(1), 200, &["new"]))
        .events();
}
