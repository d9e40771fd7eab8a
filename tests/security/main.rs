//! Secrets stay secret: a key secret and session tokens created through the API never appear in
//! the data directory (the log and every other tree), the server's request logs, or any answer
//! but the one that shows them once.

use serde_json::{json, Value};
use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

const OPERATOR_TOKEN: &str = "operator-token-for-the-secrets-test-0123456789";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every file under `directory`, read whole.
fn files(directory: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn secrets_never_reach_the_data_directory_the_logs_or_error_answers() {
    // Given: the real server, logging everything.
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("data");
    let log_path = directory.path().join("serve.log");
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["serve", "--data-dir"])
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("STEWARD_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "steward serve came up");
    let post = |path: &str, auth: Option<String>, body: Value, idempotency: Option<&str>| {
        let mut request = client.post(format!("{base}{path}")).json(&body);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        if let Some(key) = idempotency {
            request = request.header("Idempotency-Key", key);
        }
        request.send()
    };

    // When: a signup, a login and a key (created twice with an idempotency key)...
    let signup: Value = post(
        "/v1/signup",
        None,
        json!({"email": "olive@fruit.example", "first_name": "O", "last_name": "G",
               "password": "correct horse battery"}),
        Some("signup-1"),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let first_session = signup["session_token"].as_str().unwrap().to_owned();
    let project = signup["project_id"].as_str().unwrap().to_owned();
    let login: Value = post(
        "/v1/login",
        None,
        json!({"email": "olive@fruit.example", "password": "correct horse battery"}),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let second_session = login["session_token"].as_str().unwrap().to_owned();
    let mut key_secret = String::new();
    for _ in 0..2 {
        let created: Value = post(
            &format!("/v1/projects/{project}/keys"),
            Some(format!("Bearer {first_session}")),
            json!({"comment": "apple", "scopes": ["member"]}),
            Some("key-1"),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        if key_secret.is_empty() {
            key_secret = created["key"].as_str().unwrap().to_owned();
        }
    }
    // ...then requests made with them, including ones that fail.
    let secrets = [
        key_secret.clone(),
        first_session.clone(),
        second_session.clone(),
    ];
    let mut answers = Vec::new();
    for (method, path, auth) in [
        (
            "GET",
            format!("/v1/projects/{project}"),
            format!("Token {key_secret}"),
        ),
        (
            "GET",
            format!("/v1/projects/{project}/members"),
            format!("Token {key_secret}"),
        ),
        (
            "GET",
            format!("/v1/projects/{}", uuid::Uuid::now_v7()),
            format!("Token {key_secret}"),
        ),
        (
            "GET",
            format!("/v1/projects/{project}"),
            format!("Token {key_secret}x"),
        ),
        (
            "GET",
            format!("/v1/projects/{project}"),
            format!("Bearer {first_session}x"),
        ),
        (
            "GET",
            format!("/v1/projects/{project}"),
            format!("Bearer {key_secret}"),
        ),
        (
            "GET",
            format!("/v1/projects/{project}"),
            format!("Token {second_session}"),
        ),
        (
            "GET",
            "/v1/operator/outbox".to_owned(),
            format!("Bearer {second_session}"),
        ),
        (
            "POST",
            "/v1/logout".to_owned(),
            format!("Bearer {second_session}"),
        ),
        (
            "GET",
            "/v1/projects".to_owned(),
            format!("Bearer {second_session}"),
        ),
    ] {
        let request = client
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header("Authorization", auth);
        let response = request.send().await.unwrap();
        answers.push(response.text().await.unwrap());
    }
    let bad_json = client
        .post(format!("{base}/v1/projects/{project}/keys"))
        .header("Authorization", format!("Token {key_secret}"))
        .header("Content-Type", "application/json")
        .body(format!("{{\"comment\": {key_secret}"))
        .send()
        .await
        .unwrap();
    let bad_json_answer = bad_json.text().await.unwrap();
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    server.wait().unwrap();

    // Then
    let stored = files(&data);
    assert!(!stored.is_empty());
    let logs = std::fs::read(&log_path).unwrap();
    assert!(contains(&logs, "request"), "the server logged its requests");
    for secret in &secrets {
        for (path, bytes) in &stored {
            assert!(!contains(bytes, secret), "a secret is stored in {path}");
        }
        assert!(!contains(&logs, secret), "a secret is in the server's logs");
        for answer in &answers {
            assert!(
                !answer.contains(secret.as_str()),
                "a secret is in an answer: {answer}"
            );
        }
    }
    // Only what the client itself sent comes back in a parse error, never anything else.
    assert!(!bad_json_answer.contains(&first_session));
    // And the log itself holds only hashes.
    let log = steward_events::SledLog::open(&data).unwrap();
    let events: Vec<String> = log
        .read_from(1)
        .map(|envelope| serde_json::to_string(&envelope.unwrap()).unwrap())
        .collect();
    assert!(events.iter().any(|event| event.contains("secret_hash")));
    for secret in &secrets {
        assert!(events.iter().all(|event| !event.contains(secret.as_str())));
    }
}
