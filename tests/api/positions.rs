//! Read-your-writes across requests: `Steward-Position` on every answer, `Steward-Min-Position`
//! waited for (bounded), and what a bad one gets.

use crate::helpers::{assert_error, spawn_app, Auth, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn bearer(auth: &Auth) -> String {
    match auth {
        Auth::Bearer(token) => format!("Bearer {token}"),
        Auth::Key(secret) => format!("Token {secret}"),
        Auth::None => unreachable!("a signed-up person has a session"),
    }
}

/// A GET of `path` asking for `min_position`: its status, position header, Retry-After and
/// body.
async fn get_at(
    app: &TestApp,
    path: &str,
    auth: &Auth,
    min_position: &str,
) -> (StatusCode, Option<u64>, Option<String>, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", app.address))
        .header("Authorization", bearer(auth))
        .header("Steward-Min-Position", min_position)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let position = header("steward-position").map(|value| value.parse().unwrap());
    let retry_after = header("retry-after");
    let status = response.status();
    (
        status,
        position,
        retry_after,
        response.json().await.unwrap(),
    )
}

#[tokio::test]
async fn a_command_answer_gives_the_position_that_a_later_read_may_ask_for() {
    // Given
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/signup", app.address))
        .json(
            &json!({"email": "ann@fruit.example", "first_name": "Ann", "last_name": "Lee",
                      "password": "a long password"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let position: u64 = response.headers()["steward-position"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let session = Auth::Bearer(body["session_token"].as_str().unwrap().to_owned());
    // Then: the sign-up's events are all at or before it.
    assert_eq!(position, app.log_head());
    assert!(position > 0);
    // When: read back asking for it
    let started = Instant::now();
    let (status, seen, _, projects) =
        get_at(&app, "/v1/projects", &session, &position.to_string()).await;
    // Then: at once, with the sign-up's project.
    assert_eq!(status, StatusCode::OK, "{projects}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(seen.unwrap() >= position);
    assert_eq!(projects["projects"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_position_not_reached_in_time_is_503_with_retry_after_and_one_reached_meanwhile_is_answered(
) {
    // Given
    let app = spawn_app().await;
    let ann = app.signup("ann@fruit.example").await;
    let ahead = (app.log_head() + 1).to_string();
    // When: nothing moves the log on
    let started = Instant::now();
    let (status, _, retry_after, body) = get_at(&app, "/v1/projects", &ann.session, &ahead).await;
    // Then
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    );
    assert_eq!(retry_after.as_deref(), Some("1"));
    // When: another command lands while the read waits
    let (answer, _) = tokio::join!(get_at(&app, "/v1/projects", &ann.session, &ahead), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.signup("bob@fruit.example").await
    });
    // Then
    let (status, seen, _, body) = answer;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(seen.unwrap() >= ahead.parse::<u64>().unwrap());
}

#[tokio::test]
async fn a_min_position_that_is_not_a_position_is_400_and_the_command_is_not_carried_out() {
    // Given
    let app = spawn_app().await;
    let ann = app.signup("ann@fruit.example").await;
    let head = app.log_head();
    for bad in ["soon", "-1", "1.5", "99999999999999999999999"] {
        // When
        let response = reqwest::Client::new()
            .post(format!(
                "{}/v1/projects/{}/keys",
                app.address, ann.project_id
            ))
            .header("Authorization", bearer(&ann.session))
            .header("Steward-Min-Position", bad)
            .json(&json!({"comment": "laptop", "scopes": ["member"]}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        // Then
        assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("Steward-Min-Position"),
            "{body}"
        );
        assert_eq!(app.log_head(), head, "{bad}");
    }
}
