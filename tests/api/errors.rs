//! Bad input of every kind gets a 4xx with the error JSON and the request id, and changes
//! nothing.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused_with_the_error_json() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let Auth::Bearer(session) = &olive.session else {
        unreachable!()
    };
    let url = format!("{}/v1/projects/{}", app.address, olive.project_id);
    let head = app.log_head();
    let send = |body: String, content_type: &'static str| {
        app.client
            .patch(&url)
            .header("Authorization", format!("Bearer {session}"))
            .header("Content-Type", content_type)
            .body(body)
    };
    // When / Then
    for (body, content_type, status, category) in [
        (
            "{\"name\": ".to_owned(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            "[1, 2]".to_owned(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            "{\"name\": 5}".to_owned(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            "{\"name\": \"x\"}".to_owned(),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "INVALID_JSON",
        ),
        (
            format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024)),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
    ] {
        let response = send(body, content_type).send().await.unwrap();
        let header_id = response.headers()["dg-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let got = response.status();
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_error(got, &answer, status, category);
        assert_eq!(answer["request_id"], header_id);
    }
    assert_eq!(app.log_head(), head);
}

#[tokio::test]
async fn unknown_fields_bad_ids_unknown_routes_and_missing_credentials_are_refused() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let head = app.log_head();
    // When / Then
    let (status, body) = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/projects/{}", olive.project_id),
            &olive.session,
            Some(json!({"name": "x", "owner": "me"})),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_JSON");
    let (status, body) = app.get("/v1/projects/not-a-uuid", &olive.session).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_PATH_PARAMETER",
    );
    let (status, body) = app
        .get(&format!("/v1/projects/{}", uuid()), &olive.session)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "PROJECT_NOT_FOUND");
    let (status, body) = app.get("/v1/nowhere", &olive.session).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (status, body) = app
        .call(reqwest::Method::PUT, "/v1/projects", &olive.session, None)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
    );
    let (status, body) = app.get("/v1/projects", &Auth::None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    let (status, body) = app
        .get("/v1/projects", &Auth::Key("stw_key_nope".into()))
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    let (status, body) = app.get("/v1/operator/outbox", &olive.session).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    assert_eq!(app.log_head(), head);
}

#[tokio::test]
async fn responses_carry_security_headers_and_the_request_id() {
    // Given
    let app = spawn_app().await;
    // When
    let response = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    // Then
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["dg-request-id"].to_str().unwrap().len(), 36);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    // When: an error answer, and a browser's preflight
    let error = app
        .client
        .get(format!("{}/v1/projects", app.address))
        .send()
        .await
        .unwrap();
    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/projects", app.address),
        )
        .header("origin", "https://console.fruit.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    // Then
    assert_eq!(error.status(), 401);
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(error.headers()[name], value, "{name}");
    }
    let error_id = error.headers()["dg-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let error_body: serde_json::Value = error.json().await.unwrap();
    assert_eq!(error_body["request_id"], error_id);
    assert_eq!(preflight.status(), 200);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("idempotency-key"), "{allowed}");
}

#[tokio::test]
async fn a_graceful_stop_keeps_every_answered_command() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let head = app.log_head();
    // When
    let directory = app.stop().await;
    // Then
    let log = steward_events::SledLog::open(directory.path().join("data")).unwrap();
    assert_eq!(log.head(), head);
    assert_eq!(log.verify().unwrap().events, head);
    let created = log
        .read_from(1)
        .filter_map(Result::ok)
        .any(|envelope| matches!(envelope.event, steward_events::Event::ApiKeyCreated { key_id, .. } if key_id.to_string() == key.id));
    assert!(created);
}

#[tokio::test]
async fn failed_authentication_is_rate_limited_per_address() {
    // Given
    let app = spawn_app_with(|settings| settings.auth_failures_per_minute = 5).await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let project = format!("/v1/projects/{}", olive.project_id);
    // When: five failures, by key and by password.
    for _ in 0..3 {
        let (status, _) = app.get(&project, &Auth::Key("stw_key_guess".into())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    for _ in 0..2 {
        let (status, _) = app
            .post(
                "/v1/login",
                &Auth::None,
                json!({"email": "olive@fruit.example", "password": "guess guess"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Then: this address is refused, even with good credentials, until the minute is over.
    let (status, body) = app.get(&project, &key.auth).await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
    );
    let (status, body) = app
        .post(
            "/v1/login",
            &Auth::None,
            json!({"email": "olive@fruit.example", "password": "correct horse battery"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
    );
}

#[tokio::test]
async fn sign_ups_are_rate_limited_per_address_and_a_taken_email_counts_as_an_attempt() {
    // Given: three sign-ups a minute per address.
    let app = spawn_app_with(|settings| settings.signups_per_minute = 3).await;
    app.signup("olive@fruit.example").await;
    let head = app.log_head();
    let signup = |email: &str| {
        json!({"email": email, "first_name": "F", "last_name": "L",
               "password": "correct horse battery"})
    };
    // When: the email is taken (answered 409, and it counts as a sign-up attempt).
    let (status, body) = app
        .post("/v1/signup", &Auth::None, signup("OLIVE@fruit.example"))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "CONFLICT");
    let (status, _) = app
        .post("/v1/signup", &Auth::None, signup("adam@fruit.example"))
        .await;
    assert_eq!(status, StatusCode::OK);
    // Then: the fourth from this address within the minute is refused, and records nothing.
    let head_after = app.log_head();
    assert!(head_after > head);
    let (status, body) = app
        .post("/v1/signup", &Auth::None, signup("mia@fruit.example"))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
    );
    assert!(
        body["message"].as_str().unwrap().contains("sign-ups"),
        "{body}"
    );
    assert_eq!(app.log_head(), head_after);
}
