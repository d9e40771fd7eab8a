//! Hostile input, generated: random JSON (and non-JSON) bodies thrown at every command
//! endpoint. Never a 5xx; every refusal is a 4xx with the error JSON and changes nothing.

use crate::helpers::*;
use proptest::{prelude::*, test_runner::TestRunner};
use serde_json::{Map, Value};

/// Field names the endpoints take, so that generated objects get past the first checks.
const FIELDS: &[&str] = &[
    "name",
    "company",
    "email",
    "scope",
    "scopes",
    "comment",
    "tags",
    "expiration_date",
    "time_to_live_in_seconds",
    "amount",
    "units",
    "source",
    "expires_at",
    "reference",
    "request_id",
    "endpoint",
    "method",
    "model",
    "deployment",
    "code",
    "requests",
    "from_project_id",
    "to_project_id",
    "balance_id",
    "token",
    "password",
    "first_name",
    "last_name",
    "audio_seconds",
    "characters",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        "[a-z]{1,12}@[a-z]{1,8}\\.example".prop_map(Value::from),
        Just(Value::from("x".repeat(5000))),
        Just(Value::from("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")),
        Just(Value::from("owner")),
        Just(Value::from("usd")),
        Just(Value::from("2027-01-01")),
        Just(Value::from("99999999999999999999.5")),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..8).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(key, value)| (key.to_owned(), value))
                        .collect::<Map<String, Value>>(),
                )
            }),
        ]
    })
}

#[derive(Clone, Debug)]
enum Body {
    Json(Value),
    Raw(Vec<u8>),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        8 => json_value().prop_map(Body::Json),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Body::Raw),
    ]
}

#[test]
fn generated_bodies_never_crash_the_server_and_refusals_change_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (app, olive) = runtime.block_on(async {
        let app = spawn_app().await;
        let olive = app.signup("olive@fruit.example").await;
        (app, olive)
    });
    let key = runtime.block_on(app.create_key(&olive.session, &olive.project_id, &["owner"], &[]));
    let project = olive.project_id.clone();
    let targets: Vec<(reqwest::Method, String, Auth)> = vec![
        (
            reqwest::Method::PATCH,
            format!("/v1/projects/{project}"),
            olive.session.clone(),
        ),
        (
            reqwest::Method::POST,
            format!("/v1/projects/{project}/keys"),
            olive.session.clone(),
        ),
        (
            reqwest::Method::PUT,
            format!("/v1/projects/{project}/members/{}/scopes", olive.account_id),
            olive.session.clone(),
        ),
        (
            reqwest::Method::POST,
            format!("/v1/projects/{project}/invites"),
            olive.session.clone(),
        ),
        (
            reqwest::Method::POST,
            format!("/v1/projects/{project}/requests"),
            key.auth.clone(),
        ),
        (
            reqwest::Method::POST,
            format!("/v1/projects/{project}/requests/batch"),
            key.auth.clone(),
        ),
        (
            reqwest::Method::POST,
            "/v1/transfers".to_owned(),
            olive.session.clone(),
        ),
        (
            reqwest::Method::POST,
            format!("/v1/operator/projects/{project}/credits"),
            Auth::operator(),
        ),
        (reqwest::Method::POST, "/v1/signup".to_owned(), Auth::None),
        (reqwest::Method::POST, "/v1/login".to_owned(), Auth::None),
        (
            reqwest::Method::POST,
            "/v1/projects".to_owned(),
            olive.session.clone(),
        ),
        (
            reqwest::Method::POST,
            "/v1/invitations/accept".to_owned(),
            olive.session.clone(),
        ),
        (
            reqwest::Method::POST,
            "/v1/operator/accounts".to_owned(),
            Auth::operator(),
        ),
    ];
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    let strategy = (0..targets.len(), body());
    runner
        .run(&strategy, |(target, body)| {
            let (method, path, auth) = &targets[target];
            runtime.block_on(async {
                let head = app.log_head();
                let mut request = app
                    .client
                    .request(method.clone(), format!("{}{path}", app.address));
                request = match auth {
                    Auth::None => request,
                    Auth::Key(secret) => request.header("Authorization", format!("Token {secret}")),
                    Auth::Bearer(token) => {
                        request.header("Authorization", format!("Bearer {token}"))
                    }
                };
                request = match &body {
                    Body::Json(value) => request.json(value),
                    Body::Raw(bytes) => request
                        .header("Content-Type", "application/json")
                        .body(bytes.clone()),
                };
                let response = request.send().await.unwrap();
                let status = response.status();
                let text = response.text().await.unwrap();
                prop_assert!(
                    !status.is_server_error(),
                    "{method} {path}: {status} {text}"
                );
                if status.is_client_error() {
                    let answer: Value = serde_json::from_str(&text).unwrap();
                    prop_assert!(answer["category"].is_string(), "{text}");
                    prop_assert!(answer["request_id"].is_string(), "{text}");
                    prop_assert_eq!(
                        app.log_head(),
                        head,
                        "{} {}: refused yet recorded",
                        method,
                        path
                    );
                }
                Ok(())
            })
        })
        .unwrap();
}

/// Query parameter names the read endpoints take.
const QUERY_NAMES: &[&str] = &[
    "start",
    "end",
    "as_of",
    "accessor",
    "tag",
    "method",
    "model",
    "endpoint",
    "deployment",
    "grouping",
    "limit",
    "page",
    "request_id",
    "status",
    "line_item",
    "format",
    "type",
    "actor",
];

/// Odd values: dates at and beyond chrono's range, huge and negative numbers, junk.
fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-262143-01-01".to_owned()),
        Just("+262142-12-31".to_owned()),
        Just("9999-12-31".to_owned()),
        Just("0000-01-01".to_owned()),
        Just("1969-12-31T23:59:59Z".to_owned()),
        Just("2026-11-01".to_owned()),
        Just("1000000000000000".to_owned()),
        Just("-1".to_owned()),
        Just("10.0".to_owned()),
        Just("tags".to_owned()),
        Just("csv".to_owned()),
        "[ -~]{0,12}",
        "\\PC{0,8}",
    ]
}

#[test]
fn generated_query_strings_never_crash_a_read() {
    // Given
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(spawn_app());
    let olive = runtime.block_on(app.signup("olive@fruit.example"));
    let key = runtime.block_on(app.create_key(&olive.session, &olive.project_id, &["owner"], &[]));
    runtime.block_on(app.meter(&key, &olive.project_id, &uuid(), 60, &["apple"]));
    let project = format!("/v1/projects/{}", olive.project_id);
    let paths: Vec<String> = [
        "/usage",
        "/usage/breakdown",
        "/usage/fields",
        "/billing/breakdown",
        "/billing/fields",
        "/requests",
        "/audit",
        "/balances",
        "/keys",
    ]
    .iter()
    .map(|path| format!("{project}{path}"))
    .collect();
    let strategy = (
        0..paths.len(),
        prop::collection::vec((0..QUERY_NAMES.len(), query_value()), 1..4),
    );
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 400,
        ..ProptestConfig::default()
    });
    let secret = match &key.auth {
        Auth::Key(secret) => secret.clone(),
        _ => unreachable!(),
    };
    let answer = |path: String, query: Vec<(String, String)>| {
        let (app, secret) = (&app, &secret);
        async move {
            let response = app
                .client
                .get(format!("{}{path}", app.address))
                .query(&query)
                .header("Authorization", format!("Token {secret}"))
                .send()
                .await
                .map_err(|error| format!("{path} {query:?}: {error}"))?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let refused_with_json = status.is_client_error()
                && serde_json::from_str::<Value>(&text).is_ok_and(|a| a["category"].is_string());
            if status.is_success() || refused_with_json {
                Ok(())
            } else {
                Err(format!("{path} {query:?}: {status} {text}"))
            }
        }
    };
    // When / Then: every answer is a 200 or a 4xx with the error JSON, never a dropped
    // connection or a 5xx: first every date parameter with dates at chrono's limits...
    for path in &paths {
        for name in ["start", "end", "as_of"] {
            for value in ["-262143-01-01", "+262142-12-31", "0000-01-01", "9999-12-31"] {
                let query = vec![(name.to_owned(), value.to_owned())];
                runtime.block_on(answer(path.clone(), query)).unwrap();
            }
        }
    }
    // ...then generated ones.
    runner
        .run(&strategy, |(path, pairs)| {
            runtime.block_on(async {
                let query: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(name, value)| (QUERY_NAMES[*name], value.as_str()))
                    .collect();
                let response = app
                    .client
                    .get(format!("{}{}", app.address, paths[path]))
                    .query(&query)
                    .header(
                        "Authorization",
                        format!(
                            "Token {}",
                            match &key.auth {
                                Auth::Key(secret) => secret.clone(),
                                _ => unreachable!(),
                            }
                        ),
                    )
                    .send()
                    .await;
                let response = match response {
                    Ok(response) => response,
                    Err(error) => return Err(TestCaseError::fail(format!("{query:?}: {error}"))),
                };
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                prop_assert!(
                    status.is_success() || status.is_client_error(),
                    "{} {query:?}: {status} {text}",
                    paths[path]
                );
                if status.is_client_error() {
                    let answer: Value = serde_json::from_str(&text).unwrap();
                    prop_assert!(answer["category"].is_string(), "{text}");
                }
                Ok(())
            })
        })
        .unwrap();
}

async fn boom() -> &'static str {
    panic!("a bug")
}

#[tokio::test]
async fn a_panicking_handler_answers_500_with_the_error_json_and_the_server_goes_on() {
    use tower::ServiceExt;
    // Given: the middleware around a route that panics.
    let app = spawn_app().await;
    let routes = axum::Router::new().route("/boom", axum::routing::get(boom));
    let service = steward::http::with_middleware(app.state.clone(), routes);
    // When
    let request = axum::http::Request::get("/boom")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    // Then
    assert_eq!(
        response.status(),
        reqwest::StatusCode::INTERNAL_SERVER_ERROR
    );
    let request_id = response.headers()["dg-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["category"], "INTERNAL_SERVER_ERROR");
    assert_eq!(body["request_id"], request_id.as_str());
    assert!(!body.to_string().contains("a bug"), "{body}");
    // And the server still answers.
    let (status, _) = app.get("/healthz", &Auth::None).await;
    assert_eq!(status, reqwest::StatusCode::OK);
}
