//! The demo's Fruit Company served over HTTP: its balances, purchases, usage breakdowns, the
//! per-tag CSV its owner bills Apple, Banana and Pear from, and the invoice, as snapshots.

use crate::helpers::*;
use reqwest::StatusCode;
use steward::demo::run_demo;
use steward_events::{SledLog, Timestamp};

#[tokio::test]
async fn the_fruit_company_bills_apple_banana_and_pear_exactly() {
    // Given: the demo written, then served as of 1 December 2026.
    let demo_directory = tempfile::tempdir().unwrap();
    let data = demo_directory.path().join("data");
    let report = run_demo(&data).await.unwrap();
    let december = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
    let app = spawn_app_at(december, |settings| settings.data_dir = data.clone()).await;
    let project = format!("/v1/projects/{}", report.fruit_company);
    let operator = Auth::operator();
    let period = "start=2026-11-01&end=2026-11-30";
    // When
    let mut answers = Vec::new();
    for (name, path) in [
        ("demo_http_balances", format!("{project}/balances")),
        ("demo_http_purchases", format!("{project}/purchases")),
        (
            "demo_http_usage_breakdown_tags",
            format!("{project}/usage/breakdown?{period}&grouping=tags&endpoint=listen"),
        ),
        (
            "demo_http_billing_breakdown_accessor",
            format!("{project}/billing/breakdown?{period}&grouping=accessor&grouping=line_item"),
        ),
        (
            "demo_http_billing_csv_tags",
            format!("{project}/billing/breakdown?{period}&grouping=tags&format=csv"),
        ),
    ] {
        let (status, body) = app.get(&path, &operator).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        answers.push((name, body));
    }
    app.stop().await;
    // Then
    insta_settings().bind(|| {
        for (name, body) in &answers {
            match body.as_str() {
                Some(csv) => insta::assert_snapshot!(*name, csv),
                None => insta::assert_json_snapshot!(*name, body),
            }
        }
    });
    let month = steward::cli::parse_month("2026-11").unwrap();
    let invoice =
        steward::cli::invoice(&SledLog::open(&data).unwrap(), report.fruit_company, month).unwrap();
    insta_settings().bind(|| insta::assert_snapshot!("demo_invoice_2026_11", invoice));
}
