//! The server never wedges: concurrent sign-ups, interleaved with logins, key creations and
//! metering, are all answered, within bounded memory; afterwards the server still answers and
//! stops on SIGTERM.
//! (Before one flusher, per-write `flush_async` calls of the session, idempotency and outbox
//! stores deadlocked sled under 300 concurrent sign-ups: 285 never answered.)

use crate::harness::{free_port, start, Answer, Api};
use reqwest::Method;
use serde_json::{json, Value};
use std::{sync::Arc, time::Duration};
use tokio::task::JoinSet;
use uuid::Uuid;

const SIGNUPS: usize = 300;
const LOGINS: usize = 100;
const KEY_CREATIONS: usize = 50;
const METERINGS: usize = 100;
/// Longer than any answer takes when nothing is wedged (a few seconds here), far shorter than
/// forever.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// What the server may hold at its peak: password hashes (about 19 MiB each) are bounded by
/// `PASSWORD_HASHES_IN_FLIGHT_MAX`; unbounded, 300 sign-ups took 1,268 MiB.
const PEAK_RESIDENT_BYTES_MAX: u64 = 300 * 1024 * 1024;

fn signup_body(email: &str) -> Value {
    json!({"email": email, "first_name": "S", "last_name": "U", "password": "wedge test pw"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_signups_logins_keys_and_metering_are_all_answered_and_sigterm_stops() {
    // Given: a server with an owner and a key that may meter, and a visitor who logs in (a
    // hundred logins of the owner would end the owner's first session, which makes the keys:
    // an account keeps at most SESSIONS_PER_ACCOUNT_MAX).
    let directory = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start(&directory.path().join("data"), port).await;
    let api = Arc::new(Api::new(port, ANSWER_WITHIN));
    let owner_email = "owner@wedge.example";
    let Answer::Ok(owner) = api
        .call(
            Method::POST,
            "/v1/signup",
            "",
            Some(signup_body(owner_email)),
        )
        .await
    else {
        panic!("the owner's signup")
    };
    let session = format!("Bearer {}", owner["session_token"].as_str().unwrap());
    let project = owner["project_id"].as_str().unwrap().to_owned();
    let Answer::Ok(key) = api
        .call(
            Method::POST,
            &format!("/v1/projects/{project}/keys"),
            &session,
            Some(json!({"comment": "meter", "scopes": ["owner"]})),
        )
        .await
    else {
        panic!("the metering key")
    };
    let key = format!("Token {}", key["key"].as_str().unwrap());
    let visitor_email = "visitor@wedge.example";
    let visitor = api
        .call(
            Method::POST,
            "/v1/signup",
            "",
            Some(signup_body(visitor_email)),
        )
        .await;
    assert!(matches!(visitor, Answer::Ok(_)), "the visitor's signup");

    // When: all of these at once.
    let mut calls = JoinSet::new();
    let mut spawn = |kind: &'static str, method: Method, path: String, auth: String, body| {
        let api = Arc::clone(&api);
        calls.spawn(async move { (kind, api.call(method, &path, &auth, Some(body)).await) });
    };
    for index in 0..SIGNUPS.max(LOGINS).max(KEY_CREATIONS).max(METERINGS) {
        if index < SIGNUPS {
            let email = format!("{}@wedge.example", Uuid::now_v7().simple());
            spawn(
                "signup",
                Method::POST,
                "/v1/signup".into(),
                String::new(),
                signup_body(&email),
            );
        }
        if index < LOGINS {
            let body = json!({"email": visitor_email, "password": "wedge test pw"});
            spawn(
                "login",
                Method::POST,
                "/v1/login".into(),
                String::new(),
                body,
            );
        }
        if index < KEY_CREATIONS {
            let body = json!({"comment": "load", "scopes": ["member"]});
            let path = format!("/v1/projects/{project}/keys");
            spawn("key creation", Method::POST, path, session.clone(), body);
        }
        if index < METERINGS {
            let body = json!({"request_id": Uuid::now_v7(), "endpoint": "listen", "method": "sync",
                "model": "nova-3", "units": {"audio_seconds": 1}, "code": 200});
            let path = format!("/v1/projects/{project}/requests");
            spawn("metering", Method::POST, path, key.clone(), body);
        }
    }

    // Then: every one is answered, and answered 200.
    let mut unanswered = Vec::new();
    let mut refused = Vec::new();
    let mut answered = 0;
    while let Some(call) = calls.join_next().await {
        match call.unwrap() {
            (_, Answer::Ok(_)) => answered += 1,
            (kind, Answer::Refused(status, body)) => {
                refused.push(format!("{kind}: {status} {body}"))
            }
            (kind, Answer::Unknown) => unanswered.push(kind),
        }
    }
    assert!(
        unanswered.is_empty(),
        "no answer within {ANSWER_WITHIN:?}: {unanswered:?}"
    );
    assert!(refused.is_empty(), "refused: {refused:?}");
    assert_eq!(answered, SIGNUPS + LOGINS + KEY_CREATIONS + METERINGS);
    let peak = server.peak_resident_bytes();
    println!(
        "crash: {SIGNUPS} concurrent sign-ups: peak resident memory {} MiB",
        peak >> 20
    );
    assert!(
        peak < PEAK_RESIDENT_BYTES_MAX,
        "peak resident memory {} MiB",
        peak >> 20
    );

    // Then: the server still answers a sign-up and a read, and stops on SIGTERM within seconds.
    let one_more = api
        .call(
            Method::POST,
            "/v1/signup",
            "",
            Some(signup_body("late@wedge.example")),
        )
        .await;
    assert!(
        matches!(one_more, Answer::Ok(_)),
        "a sign-up after the load was not answered"
    );
    let read = api.call(Method::GET, "/v1/projects", &session, None).await;
    let Answer::Ok(read) = read else {
        panic!("a read after the load was not answered")
    };
    assert_eq!(read["projects"].as_array().unwrap().len(), 1);
    server.stop_within(STOP_WITHIN);
}
