//! `Idempotency-Key`: the same key and request answer the first answer again, even after a
//! restart; the same key with another request is a 409.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A POST of a key creation with `idempotency_key`, as it was answered.
async fn send_key(
    app: &TestApp,
    session: &Auth,
    project_id: &str,
    idempotency_key: &str,
    comment: &str,
) -> reqwest::Response {
    let Auth::Bearer(token) = session else {
        unreachable!()
    };
    app.client
        .post(format!("{}/v1/projects/{project_id}/keys", app.address))
        .header("Authorization", format!("Bearer {token}"))
        .header("Idempotency-Key", idempotency_key)
        .json(&json!({"comment": comment, "scopes": ["member"]}))
        .send()
        .await
        .unwrap()
}

/// `send_key`'s status, whether it was replayed, its request id and its body.
async fn create_key_with(
    app: &TestApp,
    session: &Auth,
    project_id: &str,
    idempotency_key: &str,
    comment: &str,
) -> (StatusCode, Option<String>, String, Value) {
    let response = send_key(app, session, project_id, idempotency_key, comment).await;
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    let request_id = response.headers()["dg-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, replayed, request_id, response.json().await.unwrap())
}

/// `send_key`'s status and its `Steward-Position`.
async fn position_of_key(
    app: &TestApp,
    session: &Auth,
    project_id: &str,
    idempotency_key: &str,
    comment: &str,
) -> (StatusCode, Option<u64>) {
    let response = send_key(app, session, project_id, idempotency_key, comment).await;
    let position = (response.headers().get("steward-position"))
        .map(|value| value.to_str().unwrap().parse().unwrap());
    (response.status(), position)
}

#[tokio::test]
async fn a_retried_command_answers_the_first_answer_and_records_nothing_more() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let (status, replayed, first_id, first) =
        create_key_with(&app, &olive.session, &olive.project_id, "retry-1", "apple").await;
    assert_eq!((status, replayed), (StatusCode::OK, None));
    let head = app.log_head();
    // When
    let (status, replayed, again_id, again) =
        create_key_with(&app, &olive.session, &olive.project_id, "retry-1", "apple").await;
    // Then
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replayed.as_deref(), Some("true"));
    // The same answer, but the secret: it is shown once and never kept.
    assert_eq!(again["key"], steward::http::idempotency::NOT_KEPT);
    let mut without_secret = first.clone();
    without_secret["key"] = again["key"].clone();
    assert_eq!(again, without_secret);
    assert_eq!(again_id, first_id);
    assert_eq!(app.log_head(), head);
    let (_, keys) = app
        .get(
            &format!("/v1/projects/{}/keys", olive.project_id),
            &olive.session,
        )
        .await;
    assert_eq!(keys["api_keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_a_conflict() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    create_key_with(&app, &olive.session, &olive.project_id, "retry-2", "apple").await;
    let head = app.log_head();
    // When
    let (status, _, _, body) =
        create_key_with(&app, &olive.session, &olive.project_id, "retry-2", "banana").await;
    // Then
    assert_error(status, &body, StatusCode::CONFLICT, "IDEMPOTENCY_CONFLICT");
    assert_eq!(app.log_head(), head);
    // Another caller's same key is their own.
    let adam = app.signup("adam@fruit.example").await;
    let (status, replayed, _, _) =
        create_key_with(&app, &adam.session, &adam.project_id, "retry-2", "banana").await;
    assert_eq!((status, replayed), (StatusCode::OK, None));
}

#[tokio::test]
async fn kept_answers_survive_a_restart() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let (_, _, _, first) =
        create_key_with(&app, &olive.session, &olive.project_id, "retry-3", "apple").await;
    let directory = app.stop().await;
    // When
    let data = directory.path().join("data");
    let app = spawn_app_with(|settings| settings.data_dir = data).await;
    let head = app.log_head();
    let (status, replayed, _, again) =
        create_key_with(&app, &olive.session, &olive.project_id, "retry-3", "apple").await;
    // Then
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(again["api_key_id"], first["api_key_id"]);
    assert_eq!(app.log_head(), head);
}

#[tokio::test]
async fn a_refusal_is_kept_too_and_a_bad_key_is_refused() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let (status, _, _, first) =
        create_key_with(&app, &olive.session, &uuid(), "retry-4", "apple").await;
    assert_error(status, &first, StatusCode::NOT_FOUND, "PROJECT_NOT_FOUND");
    // When / Then
    let too_long = "k".repeat(256);
    let (status, _, _, body) =
        create_key_with(&app, &olive.session, &olive.project_id, &too_long, "apple").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
}

#[tokio::test]
async fn anonymous_or_badly_authenticated_callers_leave_nothing_behind() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let path = format!("{}/v1/projects/{}/keys", app.address, olive.project_id);
    // When: 2,000 commands with fresh keys, without credentials or with bogus ones.
    for n in 0..2000 {
        let mut request = app
            .client
            .post(&path)
            .header("Idempotency-Key", format!("anonymous-{n}"))
            .json(&json!({"comment": "x", "scopes": ["member"]}));
        if n % 2 == 0 {
            request = request.header("Authorization", format!("Token stw_key_bogus{n}"));
        }
        let status = request.send().await.unwrap().status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Then: no answer was kept.
    assert_eq!(app.state.idempotency.count().unwrap(), 0);
    // And an authenticated caller's answer is.
    let (status, _, _, _) =
        create_key_with(&app, &olive.session, &olive.project_id, "kept", "kept").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.state.idempotency.count().unwrap(), 1);
}

#[tokio::test]
async fn a_kept_answer_expires_after_its_ttl_and_is_swept() {
    // Given: an answer kept for 24 hours.
    let app = spawn_app_with(|settings| settings.idempotency_ttl_hours = 24).await;
    let olive = app.signup("olive@fruit.example").await;
    let (_, _, _, first) =
        create_key_with(&app, &olive.session, &olive.project_id, "daily", "first").await;
    let (_, replayed, _, _) =
        create_key_with(&app, &olive.session, &olive.project_id, "daily", "first").await;
    assert_eq!(replayed.as_deref(), Some("true"));
    // When: a day later.
    app.advance_days(1);
    let (_, answers, _) = steward::http::sweep_stores(&app.state).await.unwrap();
    // Then: swept, and the same key runs again.
    assert_eq!(answers, 1);
    assert_eq!(app.state.idempotency.count().unwrap(), 0);
    let (status, replayed, _, second) =
        create_key_with(&app, &olive.session, &olive.project_id, "daily", "first").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replayed, None);
    assert_ne!(first["api_key_id"], second["api_key_id"]);
}

#[tokio::test]
async fn expired_sessions_and_outbox_messages_are_swept() {
    // Given: sessions lasting a day, an invitation lasting two.
    let app = spawn_app_with(|settings| {
        settings.session_ttl_hours = 24;
        settings.invitation_ttl_hours = 48;
    })
    .await;
    let olive = app.signup("olive@fruit.example").await;
    let (status, _) = app
        .post(
            &format!("/v1/projects/{}/invites", olive.project_id),
            &olive.session,
            json!({"email": "mia@fruit.example", "scope": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.state.sessions.count().unwrap(), 1);
    // When: a day later, then two.
    app.advance_days(1);
    let (sessions, _, messages) = steward::http::sweep_stores(&app.state).await.unwrap();
    assert_eq!((sessions, messages), (1, 0));
    assert_eq!(app.state.sessions.count().unwrap(), 0);
    let (status, _) = app.get("/v1/projects", &olive.session).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, outbox) = app.get("/v1/operator/outbox", &Auth::operator()).await;
    assert_eq!(outbox["messages"].as_array().unwrap().len(), 1);
    app.advance_days(1);
    let (_, _, messages) = steward::http::sweep_stores(&app.state).await.unwrap();
    // Then: the message went with its invitation.
    assert_eq!(messages, 1);
    let (_, outbox) = app.get("/v1/operator/outbox", &Auth::operator()).await;
    assert_eq!(outbox["messages"], json!([]));
}

/// Sends `body` to `path` with `method` and `Idempotency-Key: key` as `session`: the status,
/// whether it was a replay, and the body.
async fn send_with(
    app: &TestApp,
    (method, path): (reqwest::Method, &str),
    session: &Auth,
    key: &str,
    body: Value,
) -> (StatusCode, bool, Value) {
    let Auth::Bearer(token) = session else {
        unreachable!()
    };
    let response = (app.client.request(method, format!("{}{path}", app.address)))
        .header("Authorization", format!("Bearer {token}"))
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    (status, replayed, response.json().await.unwrap())
}

#[tokio::test]
async fn hand_over_rotation_budgets_and_removal_with_reassignment_are_idempotent() {
    // Given: Mia, a member, has a key in Olive's project.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let key = app
        .create_key(&mia.session, &olive.project_id, &["member"], &[])
        .await;
    let project = &olive.project_id;
    let keys = format!("/v1/projects/{project}/keys/{}", key.id);
    let commands = [
        (
            (reqwest::Method::POST, format!("{keys}/rotate")),
            json!({"overlap_seconds": 60}),
        ),
        (
            (
                reqwest::Method::PUT,
                format!("/v1/projects/{project}/tags/apple/budget"),
            ),
            json!({"monthly_usd": 25, "hard": true}),
        ),
        (
            (reqwest::Method::POST, format!("{keys}/owner")),
            json!({"member_id": olive.account_id}),
        ),
        (
            (
                reqwest::Method::DELETE,
                format!(
                    "/v1/projects/{project}/members/{}?reassign_keys_to={}",
                    mia.account_id, olive.account_id
                ),
            ),
            Value::Null,
        ),
    ];
    for ((method, path), body) in commands {
        let request = (method.clone(), path.as_str());
        // When: sent twice with the same key.
        let (status, replayed, first) =
            send_with(&app, request.clone(), &olive.session, &path, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {first}");
        assert!(!replayed);
        let head = app.log_head();
        let (status, replayed, again) = send_with(&app, request, &olive.session, &path, body).await;
        // Then: the first answer again, and nothing more recorded; a rotation's new secret is
        // not kept to be shown again.
        assert_eq!(status, StatusCode::OK, "{path}: {again}");
        assert!(replayed, "{path}");
        assert_eq!(app.log_head(), head, "{path}: a replay records nothing");
        if path.ends_with("/rotate") {
            assert!(first["key"].as_str().unwrap().starts_with("stw_key_"));
            assert_eq!(again["key"], "[shown once; not kept]");
            assert_eq!(again["api_key_id"], first["api_key_id"]);
        } else {
            assert_eq!(again, first, "{path}");
        }
    }
}

/// How many answers the metrics count under the idempotency layer's route with `status`.
fn counted_by_the_layer(app: &TestApp, status: u16) -> usize {
    let line = format!(
        "steward_http_requests_total{{route=\"idempotency\",method=\"POST\",status=\"{status}\"}} "
    );
    let metrics = app.state.metrics.render();
    (metrics.lines())
        .find_map(|found| found.strip_prefix(line.as_str()))
        .map_or(0, |count| count.parse().unwrap())
}

#[tokio::test]
async fn a_replayed_answer_and_a_conflict_give_the_position_and_are_counted() {
    // Given: a key created with an Idempotency-Key, and the log moved on since
    let app = spawn_app().await;
    let ann = app.signup("ann@fruit.example").await;
    let (status, first) =
        position_of_key(&app, &ann.session, &ann.project_id, "laptop-1", "laptop").await;
    assert_eq!(status, StatusCode::OK);
    let first = first.unwrap();
    app.signup("bob@fruit.example").await;
    let head = app.log_head();
    assert!(head > first);
    // When: the same request again
    let (status, position) =
        position_of_key(&app, &ann.session, &ann.project_id, "laptop-1", "laptop").await;
    // Then: the first answer, with the position the read models reflect now (at least the
    // key's), which a node that forwarded it waits for before answering; counted as answered
    assert_eq!(status, StatusCode::OK);
    assert_eq!(position, Some(head));
    assert_eq!(counted_by_the_layer(&app, 200), 1);
    // When: the key again with another request
    let (status, position) =
        position_of_key(&app, &ann.session, &ann.project_id, "laptop-1", "phone").await;
    // Then
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(position, Some(head));
    assert_eq!(counted_by_the_layer(&app, 409), 1);
    assert_eq!(app.log_head(), head);
}

#[tokio::test]
async fn an_answer_too_large_to_keep_is_sent_and_a_retry_is_told_and_not_run() {
    // Given: a key with 32 tags of 128 two-byte characters, which each metering's answer
    // repeats: a batch of 1000 meterings is answered with more than KEPT_ANSWER_BYTES_MAX.
    let app = spawn_app().await;
    let ann = app.signup("ann@fruit.example").await;
    let tags: Vec<String> = (0..32)
        .map(|n| format!("{n:02}{}", "é".repeat(126)))
        .collect();
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let key = app
        .create_key(&ann.session, &ann.project_id, &["member"], &tags)
        .await;
    let Auth::Key(secret) = &key.auth else {
        unreachable!("a key")
    };
    let requests: Vec<Value> = (0..1000)
        .map(|_| {
            json!({"request_id": uuid(), "endpoint": "listen", "method": "sync",
                   "model": "nova-3", "units": {"audio_seconds": 1}, "code": 200})
        })
        .collect();
    let send = || {
        app.client
            .post(format!(
                "{}/v1/projects/{}/requests/batch",
                app.address, ann.project_id
            ))
            .header("Authorization", format!("Token {secret}"))
            .header("Idempotency-Key", "batch-1")
            .json(&json!({ "requests": requests }))
            .send()
    };
    // When
    let answer = send().await.unwrap();
    // Then: the whole answer, counted once, under its route
    assert_eq!(answer.status(), StatusCode::OK);
    let body = answer.bytes().await.unwrap();
    assert!(
        body.len() > steward::limits::KEPT_ANSWER_BYTES_MAX,
        "{}",
        body.len()
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1000);
    assert!(results.iter().all(|result| result["status"] == 200));
    assert_eq!(counted_by_the_layer(&app, 500), 0);
    let line = "steward_http_requests_total{route=\"/v1/projects/{project_id}/requests/batch\",\
                method=\"POST\",status=\"200\"} 1";
    let metrics = app.state.metrics.render();
    assert!(metrics.contains(line), "{line}: {metrics}");
    let head = app.log_head();
    // When: the same batch again
    let (status, body) = {
        let answer = send().await.unwrap();
        (answer.status(), answer.json::<Value>().await.unwrap())
    };
    // Then: told it was answered, and nothing more recorded
    assert_error(status, &body, StatusCode::CONFLICT, "IDEMPOTENCY_CONFLICT");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("too large to keep"), "{message}");
    assert_eq!(app.log_head(), head);
}
