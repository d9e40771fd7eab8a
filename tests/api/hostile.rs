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
