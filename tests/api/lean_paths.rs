//! The lean paths (`http::split`): metering and the gateway's check answered without the
//! router and the layers that have nothing to do for them. Every answer must be the one the
//! full stack gives; a metering request with an `Origin` takes the full stack (CORS answers
//! it), which is how these tests compare the two.

use crate::helpers::{assert_error, spawn_app, uuid, Auth, Key, TestApp};
use reqwest::{header::HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ORIGIN: &str = "https://console.fruit.example";

/// One metering request as sent.
struct Metered<'a> {
    project_id: &'a str,
    authorization: Option<String>,
    content_type: &'a str,
    body: String,
    /// `Origin` (the full stack) or none (the lean path).
    origin: bool,
    headers: &'a [(&'a str, &'a str)],
}

impl<'a> Metered<'a> {
    fn new(project_id: &'a str, key: &Key, body: Value) -> Self {
        let Auth::Key(secret) = &key.auth else {
            unreachable!("a key")
        };
        Self {
            project_id,
            authorization: Some(format!("Token {secret}")),
            content_type: "application/json",
            body: body.to_string(),
            origin: false,
            headers: &[],
        }
    }

    async fn send(&self, app: &TestApp) -> (StatusCode, HeaderMap, Value) {
        let url = format!("{}/v1/projects/{}/requests", app.address, self.project_id);
        let mut request = (app.client.post(url))
            .header("Content-Type", self.content_type)
            .body(self.body.clone());
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        if self.origin {
            request = request.header("Origin", ORIGIN);
        }
        for (name, value) in self.headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.json().await.unwrap())
    }
}

fn usage(request_id: &str) -> Value {
    json!({"request_id": request_id, "endpoint": "listen", "method": "sync", "model": "nova-3",
           "units": {"audio_seconds": 12.5}, "code": 200, "tags": ["pear"]})
}

/// An answer without what differs between two requests by design: the error body's request
/// id, and the metering answer's own request id (each case records a fresh one).
fn comparable(mut body: Value) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.remove("request_id");
    }
    body
}

/// The headers an answer carries, without those that differ by design: the date, the
/// request id, and (the full stack's) CORS.
fn header_names(headers: &HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = (headers.keys())
        .map(|name| name.as_str().to_owned())
        .filter(|name| {
            !name.starts_with("access-control-") && !["date", "vary"].contains(&name.as_str())
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn metering_answers_alike_on_the_lean_path_and_through_the_full_stack() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &["apple"])
        .await;
    let (project, elsewhere) = (olive.project_id.as_str(), uuid());
    let (lean_id, full_id) = (uuid(), uuid());
    let usage_of = |request_id: &str| Metered::new(project, &key, usage(request_id));
    let too_large = json!({"request_id": uuid(), "padding": "x".repeat(1024 * 1024)});
    let unknown_model = json!({"request_id": uuid(), "endpoint": "listen", "method": "sync",
                               "model": "nova-99", "units": {}, "code": 200});
    let cases = [
        ("recorded", usage_of(&lean_id), StatusCode::OK),
        (
            "retried: the first answer",
            usage_of(&lean_id),
            StatusCode::OK,
        ),
        (
            "no credentials",
            Metered {
                authorization: None,
                ..usage_of(&uuid())
            },
            StatusCode::UNAUTHORIZED,
        ),
        (
            "an unknown key",
            Metered {
                authorization: Some("Token stw_key_unknown".into()),
                ..usage_of(&uuid())
            },
            StatusCode::UNAUTHORIZED,
        ),
        (
            "another project",
            Metered {
                project_id: &elsewhere,
                ..usage_of(&uuid())
            },
            StatusCode::NOT_FOUND,
        ),
        (
            "malformed JSON",
            Metered {
                body: "{\"request_id\":".into(),
                ..usage_of(&uuid())
            },
            StatusCode::BAD_REQUEST,
        ),
        (
            "an unknown field",
            Metered::new(project, &key, json!({"request_id": uuid(), "cost": 0})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "an unknown model",
            Metered::new(project, &key, unknown_model),
            StatusCode::BAD_REQUEST,
        ),
        (
            "not JSON",
            Metered {
                content_type: "text/plain",
                ..usage_of(&uuid())
            },
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "over the body limit",
            Metered::new(project, &key, too_large),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "a bad Steward-Min-Position",
            Metered {
                headers: &[("Steward-Min-Position", "soon")],
                ..usage_of(&uuid())
            },
            StatusCode::BAD_REQUEST,
        ),
    ];
    let mut answered_ok = 0;
    for (case, lean, expected) in cases {
        // When: the case on the lean path, then through the full stack with a request id of
        // its own (the retry sends each path's own id again).
        let head = app.log_head();
        let (lean_status, lean_headers, lean_body) = lean.send(&app).await;
        let full = Metered {
            origin: true,
            body: lean.body.replace(&lean_id, &full_id),
            ..lean
        };
        let (full_status, full_headers, full_body) = full.send(&app).await;
        // Then: the same status, body and headers, and CORS only through the full stack.
        assert_eq!(lean_status, expected, "{case}: {lean_body}");
        assert_eq!(full_status, expected, "{case}: {full_body}");
        assert_eq!(
            comparable(lean_body.clone()),
            comparable(full_body),
            "{case}"
        );
        assert_eq!(
            header_names(&lean_headers),
            header_names(&full_headers),
            "{case}"
        );
        assert!(
            !lean_headers.contains_key("access-control-allow-origin"),
            "{case}"
        );
        assert_eq!(full_headers["access-control-allow-origin"], "*", "{case}");
        for headers in [&lean_headers, &full_headers] {
            assert_eq!(headers["x-content-type-options"], "nosniff", "{case}");
            assert!(headers.contains_key("dg-request-id"), "{case}");
            assert!(headers.contains_key("steward-position"), "{case}");
        }
        match case {
            "recorded" => assert!(app.log_head() > head, "{case}: recorded"),
            _ => assert_eq!(app.log_head(), head, "{case}: nothing recorded"),
        }
        if expected == StatusCode::OK {
            answered_ok += 2;
            assert_eq!(lean_body["tags"], json!(["apple", "pear"]), "{case}");
            assert!(
                lean_body["usd"].as_f64().is_some_and(|usd| usd > 0.0),
                "{case}"
            );
        } else {
            let category = lean_body["category"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert_error(lean_status, &lean_body, expected, &category);
        }
    }
    // Both paths are counted under the route's template.
    let (_, metrics) = app.get("/metrics", &Auth::None).await;
    let text = metrics.as_str().unwrap_or_default();
    let counted = format!(
        "steward_http_requests_total{{route=\"/v1/projects/{{project_id}}/requests\",method=\"POST\",status=\"200\"}} {answered_ok}"
    );
    assert!(text.contains(&counted), "{counted}: {text}");
}

#[tokio::test]
async fn metering_with_an_idempotency_key_keeps_and_replays_its_answer() {
    // Given: the key takes metering through the idempotency layer.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let metered = Metered {
        headers: &[("Idempotency-Key", "meter-1")],
        ..Metered::new(&olive.project_id, &key, usage(&uuid()))
    };
    let (status, first_headers, first) = metered.send(&app).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(!first_headers.contains_key("idempotent-replayed"));
    let head = app.log_head();
    // When
    let (status, headers, again) = metered.send(&app).await;
    // Then: the kept answer, and nothing recorded again.
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(again, first);
    assert_eq!(app.log_head(), head);
    // The same key with another body is refused, and records nothing.
    let other = Metered {
        body: usage(&uuid()).to_string(),
        ..metered
    };
    let (status, _, body) = other.send(&app).await;
    assert_error(status, &body, StatusCode::CONFLICT, "IDEMPOTENCY_CONFLICT");
    assert_eq!(app.log_head(), head);
}

#[tokio::test]
async fn the_lean_paths_wait_for_steward_min_position_as_every_route_does() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let Auth::Key(secret) = &key.auth else {
        unreachable!("a key")
    };
    let check = |position: String| {
        (app.client.get(format!("{}/v1/auth/verify", app.address)))
            .header("Authorization", format!("Token {secret}"))
            .header("X-Original-URI", "/v1/listen?model=nova-3")
            .header("Steward-Min-Position", position)
            .send()
    };
    let head = app.log_head();
    let ahead = (head + 1).to_string();
    // When: a position that is not one
    let bad_check = check("soon".into()).await.unwrap();
    let bad_meter = Metered {
        headers: &[("Steward-Min-Position", "-1")],
        ..Metered::new(&olive.project_id, &key, usage(&uuid()))
    };
    let (status, _, body) = bad_meter.send(&app).await;
    // Then: 400, and nothing recorded.
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("Steward-Min-Position"));
    let (status, body) = (bad_check.status(), bad_check.json::<Value>().await.unwrap());
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    assert_eq!(app.log_head(), head);
    // When: a position the log does not reach, both at once
    let started = Instant::now();
    let meter_ahead = Metered {
        headers: &[("Steward-Min-Position", &ahead)],
        ..Metered::new(&olive.project_id, &key, usage(&uuid()))
    };
    let (checked, (status, headers, body)) =
        tokio::join!(check(ahead.clone()), meter_ahead.send(&app));
    // Then: each waited, and was refused with Retry-After; nothing was recorded.
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    );
    assert_eq!(headers["retry-after"], "1");
    let checked = checked.unwrap();
    assert_eq!(checked.headers()["retry-after"], "1");
    let (status, body) = (checked.status(), checked.json::<Value>().await.unwrap());
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    );
    assert_eq!(app.log_head(), head);
}
