//! `spawn_app()`: the real server on a free port, over a fresh data directory and a manual
//! clock, with one method per endpoint the tests use.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use steward::{clock::ManualClock, config::ServeSettings, http::AppState, startup::Application};
use steward_events::Timestamp;
use tokio::sync::oneshot;

pub const OPERATOR_TOKEN: &str = "operator-token-for-tests-0123456789abcdef";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub directory: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    /// `Authorization: Token <key secret>`.
    Key(String),
    /// `Authorization: Bearer <session or operator token>`.
    Bearer(String),
}

impl Auth {
    pub fn operator() -> Self {
        Auth::Bearer(OPERATOR_TOKEN.into())
    }
}

/// A person who signed up: their account, first project and session.
#[derive(Clone, Debug)]
pub struct Person {
    pub account_id: String,
    pub project_id: String,
    pub email: String,
    pub session: Auth,
}

/// A key created through the API: its id and its secret.
#[derive(Clone, Debug)]
pub struct Key {
    pub id: String,
    pub auth: Auth,
}

pub fn start_time() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-01T09:00:00Z").unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
    spawn_app_at(start_time(), configure).await
}

/// The app with its clock starting at `start`.
pub async fn spawn_app_at(start: Timestamp, configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = ServeSettings::embedded_default();
    settings.data_dir = directory.path().join("data");
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.operator_token = Some(OPERATOR_TOKEN.into());
    // The matrix fails authentication on purpose, many times; the throttle has its own test.
    settings.auth_failures_per_minute = 0;
    // Every test signs up from 127.0.0.1; the sign-up throttle has its own test.
    settings.signups_per_minute = 0;
    configure(&mut settings);
    let clock = Arc::new(ManualClock::new(start));
    let application = Application::build(settings, clock.clone()).await.unwrap();
    let address = format!("http://127.0.0.1:{}", application.port());
    let state = application.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        application
            .run_until_stopped(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    TestApp {
        address,
        client: reqwest::Client::new(),
        clock,
        state,
        directory,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    /// Sends a request; answers the status and the JSON body (`Null` when there is none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        request = match auth {
            Auth::None => request,
            Auth::Key(secret) => request.header("Authorization", format!("Token {secret}")),
            Auth::Bearer(token) => request.header("Authorization", format!("Bearer {token}")),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> (StatusCode, Value) {
        self.call(Method::GET, path, auth, None).await
    }

    pub async fn post(&self, path: &str, auth: &Auth, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, auth, Some(body)).await
    }

    pub async fn delete(&self, path: &str, auth: &Auth) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, auth, None).await
    }

    /// The position of the last recorded event: unchanged means nothing was recorded.
    pub fn log_head(&self) -> u64 {
        self.state.steward.log().head().unwrap()
    }

    pub fn advance_days(&self, days: i64) {
        self.clock.advance_seconds(days * 86_400);
    }

    pub async fn signup(&self, email: &str) -> Person {
        let (status, body) = self
            .post(
                "/v1/signup",
                &Auth::None,
                json!({"email": email, "first_name": "First", "last_name": "Last",
                       "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Person {
            account_id: body["account_id"].as_str().unwrap().into(),
            project_id: body["project_id"].as_str().unwrap().into(),
            email: email.into(),
            session: Auth::Bearer(body["session_token"].as_str().unwrap().into()),
        }
    }

    pub async fn create_key(
        &self,
        auth: &Auth,
        project_id: &str,
        scopes: &[&str],
        tags: &[&str],
    ) -> Key {
        let (status, body) = self
            .post(
                &format!("/v1/projects/{project_id}/keys"),
                auth,
                json!({"comment": "test key", "scopes": scopes, "tags": tags}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Key {
            id: body["api_key_id"].as_str().unwrap().into(),
            auth: Auth::Key(body["key"].as_str().unwrap().into()),
        }
    }

    /// The token of the newest outbox message to `email`.
    pub async fn invitation_token(&self, email: &str) -> String {
        let (status, body) = self.get("/v1/operator/outbox", &Auth::operator()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|message| message["to"] == email)
            .unwrap_or_else(|| panic!("no invitation to {email}: {body}"))["token"]
            .as_str()
            .unwrap()
            .into()
    }

    /// `owner` invites `person` into their project with `role`, and `person` accepts.
    pub async fn invite_and_accept(&self, owner: &Person, person: &Person, role: &str) {
        let (status, body) = self
            .post(
                &format!("/v1/projects/{}/invites", owner.project_id),
                &owner.session,
                json!({"email": person.email, "scope": role}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = self.invitation_token(&person.email).await;
        let (status, body) = self
            .post(
                "/v1/invitations/accept",
                &person.session,
                json!({ "token": token }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// The uuid of the latest catalog model named `canonical_name`.
    pub async fn model_id(&self, auth: &Auth, canonical_name: &str) -> String {
        let (status, body) = self.get("/v1/models", auth).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let all = [&body["stt"], &body["tts"]];
        let model = all
            .iter()
            .flat_map(|list| list.as_array().unwrap())
            .find(|model| model["canonical_name"] == canonical_name)
            .unwrap_or_else(|| panic!("{canonical_name} is not listed: {body}"));
        model["uuid"].as_str().unwrap().to_owned()
    }

    /// Records one metered request with `key`.
    pub async fn meter(
        &self,
        key: &Key,
        project_id: &str,
        request_id: &str,
        audio_seconds: u64,
        tags: &[&str],
    ) -> (StatusCode, Value) {
        self.post(
            &format!("/v1/projects/{project_id}/requests"),
            &key.auth,
            json!({"request_id": request_id, "endpoint": "listen", "method": "sync",
                   "model": "nova-3", "units": {"audio_seconds": audio_seconds},
                   "code": 200, "tags": tags}),
        )
        .await
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
        drop(self.state);
        self.directory
    }
}

/// Asserts the error JSON's shape and category.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, expected_status: StatusCode, category: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["category"], category, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["details"].is_string(), "{body}");
    assert!(
        body["request_id"].as_str().is_some_and(|id| id.len() == 36),
        "{body}"
    );
}

/// A fresh UUID for request ids and unknown ids.
pub fn uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// insta settings that keep every snapshot in the workspace's `snapshots/`.
pub fn insta_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings
}
