//! Every projection after the demo scenario, and its audit trail, as insta snapshots.
//!
//! The demo's ids are deterministic and its clock is manual, so only secrets' hashes and the
//! per-event random ids (event id, correlation id) are redacted.

use crate::helpers::{demo, insta_settings};
use std::collections::BTreeMap;
use steward::cli::write_audit;
use steward_events::SledLog;
use steward_projections::{usage::RequestView, Projections};

fn rebuilt(path: &std::path::Path) -> Projections {
    Projections::rebuild(&SledLog::open(path).unwrap()).unwrap()
}

#[tokio::test]
async fn the_demos_projections_match_their_snapshots() {
    // Given
    let data = demo().await;
    // When
    let projections = rebuilt(data.path());
    // Then
    insta_settings().bind(|| {
        insta::assert_json_snapshot!("demo_membership", projections.membership);
        insta::assert_json_snapshot!("demo_keys", projections.keys);
        insta::assert_json_snapshot!("demo_credits", projections.credits);
        insta::assert_json_snapshot!("demo_tag_budgets", projections.tag_budgets);
        // Long lists go one compact JSON line per item, so a change shows as a changed line.
        let days: BTreeMap<_, _> = projections
            .usage
            .projects
            .iter()
            .map(|(project_id, usage)| (project_id, &usage.days))
            .collect();
        insta::assert_json_snapshot!("demo_usage_days", days);
        // The request log is positions in the event log: read each request back.
        let log = SledLog::open(data.path()).unwrap();
        let requests = projections
            .usage
            .projects
            .values()
            .flat_map(|usage| &usage.requests)
            .map(|&position| {
                let envelope = log.read_from(position).next().unwrap().unwrap();
                RequestView::of(&envelope).unwrap()
            });
        insta::assert_snapshot!("demo_usage_requests", json_lines(requests));
        insta::assert_json_snapshot!("demo_audit_projection", projections.audit);
    });
}

fn json_lines<T: serde::Serialize>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|item| serde_json::to_string(&item).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_demos_audit_trail_matches_its_snapshot() {
    // Given
    let data = demo().await;
    let log = SledLog::open(data.path()).unwrap();
    // When
    let mut json_lines = Vec::new();
    write_audit(&log, None, true, &mut json_lines).unwrap();
    // Then: every line is one whole envelope; random ids and secret hashes are redacted.
    let redacted: Vec<String> = String::from_utf8(json_lines)
        .unwrap()
        .lines()
        .map(|line| {
            let mut envelope: serde_json::Value = serde_json::from_str(line).unwrap();
            envelope["event_id"] = "[event_id]".into();
            envelope["correlation_id"] = "[correlation_id]".into();
            if let Some(fields) = envelope["event"]
                .as_object_mut()
                .unwrap()
                .values_mut()
                .next()
            {
                for secret in ["secret_hash", "token_hash"] {
                    if let Some(value) = fields.get_mut(secret) {
                        *value = format!("[{secret}]").into();
                    }
                }
            }
            envelope.to_string()
        })
        .collect();
    assert_eq!(redacted.len() as u64, data.report.events);
    insta_settings().bind(|| {
        insta::assert_snapshot!("demo_audit_json_lines", redacted.join("\n"));
    });
}
