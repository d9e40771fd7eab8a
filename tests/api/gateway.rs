//! The gateway's check (`/v1/auth/verify`), metering after it, and `/metrics`. The same check
//! behind a real nginx is `tests/gateway` (run by `.ci/run`).

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The check as nginx asks it: the key (or grant) and the original URI in headers.
async fn verify(app: &TestApp, authorization: Option<&str>, uri: &str) -> reqwest::Response {
    let mut request = app
        .client
        .get(format!("{}/v1/auth/verify", app.address))
        .header("X-Original-URI", uri)
        .header("X-Original-Method", "POST");
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    request.send().await.unwrap()
}

fn token(key: &Key) -> String {
    match &key.auth {
        Auth::Key(secret) => format!("Token {secret}"),
        _ => unreachable!("a key"),
    }
}

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_valid_key_is_allowed_with_its_project_key_account_tags_and_scopes() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(
            &olive.session,
            &olive.project_id,
            &["member"],
            &["apple", "a,b"],
        )
        .await;
    let head = app.log_head();
    // When
    let answer = verify(
        &app,
        Some(&token(&key)),
        "/v1/listen?model=nova-3&tag=pear&tag=apple&tag=caf%C3%A9",
    )
    .await;
    // Then: the ids and the tags (the key's, then the request's, each percent-encoded).
    assert_eq!(answer.status(), StatusCode::OK);
    let headers = answer.headers().clone();
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("x-steward-project-id"), olive.project_id);
    assert_eq!(header("x-steward-key-id"), key.id);
    assert_eq!(header("x-steward-account-id"), olive.account_id);
    assert_eq!(header("x-steward-tags"), "apple,a%2Cb,pear,caf%C3%A9");
    let scopes = header("x-steward-scopes");
    assert!(
        scopes.split(',').any(|scope| scope == "usage:write"),
        "{scopes}"
    );
    assert!(!scopes.contains("billing:write"), "a member key: {scopes}");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["tags"], json!(["apple", "a,b", "pear", "café"]));
    assert_eq!(app.log_head(), head, "a check records nothing");
    // POST (body ignored), Traefik's header, the model in a header, Envoy's path suffix.
    let posted = (app.client.post(format!("{}/v1/auth/verify", app.address)))
        .header("Authorization", token(&key))
        .header("X-Forwarded-Uri", "/v1/listen?tag=x")
        .header("X-Steward-Model", "nova-3")
        .body("ignored")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::OK);
    assert_eq!(posted.headers()["x-steward-tags"], "apple,a%2Cb,x");
    let envoy = (app.client)
        .get(format!(
            "{}/v1/auth/verify/v1/listen?model=nova-3&tag=y",
            app.address
        ))
        .header("Authorization", token(&key))
        .send()
        .await
        .unwrap();
    assert_eq!(envoy.status(), StatusCode::OK);
    assert_eq!(envoy.headers()["x-steward-tags"], "apple,a%2Cb,y");
}

#[tokio::test]
async fn dead_keys_and_grants_are_refused_with_401_and_count_as_failed_authentications() {
    // Given: a key that will be deleted, a removed member's key, a grant that will expire.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let deleted = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let mias = app
        .create_key(&mia.session, &olive.project_id, &["member"], &[])
        .await;
    let kept = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let (status, grant) = app
        .post("/v1/auth/grant", &kept.auth, json!({"ttl_seconds": 60}))
        .await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    let grant = format!("Bearer {}", grant["access_token"].as_str().unwrap());
    assert_eq!(
        verify(&app, Some(&grant), "/v1/listen").await.status(),
        StatusCode::OK,
        "a live grant passes"
    );
    let (status, _) = app
        .delete(
            &format!("/v1/projects/{}/keys/{}", olive.project_id, deleted.id),
            &olive.session,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .delete(
            &format!(
                "/v1/projects/{}/members/{}",
                olive.project_id, mia.account_id
            ),
            &olive.session,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.advance_days(1);
    let failures_before = app.state.metrics.auth_failures.get();
    // When / Then
    for (authorization, what) in [
        (Some("Token nope".to_owned()), "an unknown key"),
        (Some(token(&deleted)), "a deleted key"),
        (Some(token(&mias)), "a removed member's key"),
        (Some(grant.clone()), "an expired grant"),
        (Some("Bearer not.a.grant".to_owned()), "a forged grant"),
        (None, "no credentials"),
    ] {
        let (status, body) =
            error_of(verify(&app, authorization.as_deref(), "/v1/listen").await).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
        assert!(
            body["request_id"].is_string(),
            "{what}: the error JSON as everywhere"
        );
    }
    assert_eq!(app.state.metrics.auth_failures.get() - failures_before, 6);
    let verify_text = app.state.metrics.render();
    assert!(
        verify_text.contains("steward_verify_answers_total{outcome=\"invalid_auth\"} 6"),
        "{verify_text}"
    );
}

#[tokio::test]
async fn failed_checks_lead_to_the_failed_authentication_limit() {
    // Given
    let app = spawn_app_with(|settings| settings.auth_failures_per_minute = 3).await;
    // When
    for _ in 0..3 {
        let answer = verify(&app, Some("Token nope"), "/v1/listen").await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    }
    // Then
    let (status, body) = error_of(verify(&app, Some("Token nope"), "/v1/listen").await).await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
    );
}

#[tokio::test]
async fn a_project_without_credit_is_402_a_model_it_may_not_use_or_a_missing_scope_403() {
    // Given: Olive's second project has no credit; nova-3 is taken from her first.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let (status, second) = app
        .post("/v1/projects", &olive.session, json!({"name": "Empty"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second = second["project_id"].as_str().unwrap().to_owned();
    let broke = app
        .create_key(&olive.session, &second, &["member"], &[])
        .await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let reader = app
        .create_key(&olive.session, &olive.project_id, &["keys:read"], &[])
        .await;
    let nova = app.model_id(&olive.session, "nova-3").await;
    let (status, body) = app
        .delete(
            &format!("/v1/operator/projects/{}/models/{nova}", olive.project_id),
            &Auth::operator(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // When / Then
    let (status, body) = error_of(verify(&app, Some(&token(&broke)), "/v1/listen").await).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYMENT_REQUIRED,
        "ASR_PAYMENT_REQUIRED",
    );
    for uri in [
        "/v1/listen?model=nova-3",
        &format!("/v1/listen?model={nova}"),
        "/v1/listen?model=nova-99",
    ] {
        let (status, body) = error_of(verify(&app, Some(&token(&key)), uri).await).await;
        assert_error(
            status,
            &body,
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
        );
        assert!(
            body["message"].as_str().unwrap().contains("model"),
            "{uri}: {body}"
        );
    }
    let allowed = verify(&app, Some(&token(&key)), "/v1/listen?model=nova-2").await;
    assert_eq!(
        allowed.status(),
        StatusCode::OK,
        "another model is still allowed"
    );
    let (status, body) = error_of(verify(&app, Some(&token(&reader)), "/v1/listen").await).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    // A bad tag is a 400, and nothing of it counts as an authentication failure.
    let failures = app.state.metrics.auth_failures.get();
    let long = format!("/v1/listen?tag={}", "t".repeat(129));
    let (status, body) = error_of(verify(&app, Some(&token(&key)), &long).await).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY_PARAMETER",
    );
    assert_eq!(app.state.metrics.auth_failures.get(), failures);
    let metrics = app.state.metrics.render();
    for line in [
        "steward_verify_answers_total{outcome=\"payment_required\"} 1",
        "steward_verify_answers_total{outcome=\"model_not_allowed\"} 3",
        "steward_verify_answers_total{outcome=\"missing_scope\"} 1",
        "steward_verify_answers_total{outcome=\"allowed\"} 1",
        "steward_verify_answers_total{outcome=\"bad_request\"} 1",
    ] {
        assert!(metrics.contains(line), "{line}: {metrics}");
    }
}

#[tokio::test]
async fn a_tag_new_this_month_is_refused_once_the_project_has_used_its_limit_of_tags() {
    // Given: Olive's project has used one tag short of the month's limit: her key's "apple",
    // then "c1", "c2", … (32 a request, in one batch).
    let max = steward::limits::TAGS_PER_PROJECT_MONTH_MAX;
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &["apple"])
        .await;
    let tags: Vec<String> = (1..max - 1).map(|n| format!("c{n}")).collect();
    let requests: Vec<Value> = tags
        .chunks(32)
        .map(|tags| {
            json!({"request_id": uuid(), "endpoint": "listen", "method": "sync",
                   "model": "nova-3", "units": {"audio_seconds": 1}, "code": 200, "tags": tags})
        })
        .collect();
    let requests_path = format!("/v1/projects/{}/requests", olive.project_id);
    let (status, body) = app
        .post(
            &format!("{requests_path}/batch"),
            &key.auth,
            json!({ "requests": requests }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let statuses = body["results"].as_array().unwrap().iter();
    assert!(
        statuses.clone().all(|result| result["status"] == 200),
        "{body}"
    );
    let meter = |tag: &str| {
        json!({"request_id": uuid(), "endpoint": "listen", "method": "sync", "model": "nova-3",
               "units": {"audio_seconds": 1}, "code": 200, "tags": [tag]})
    };
    // The last new tag of the month is allowed and recorded.
    let last = verify(&app, Some(&token(&key)), "/v1/listen?tag=last").await;
    assert_eq!(last.status(), StatusCode::OK);
    let (status, body) = app.post(&requests_path, &key.auth, meter("last")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // When / Then: a tag new this month is refused by the check and by metering, with the
    // error JSON; nothing is recorded.
    let head = app.log_head();
    let (status, body) =
        error_of(verify(&app, Some(&token(&key)), "/v1/listen?tag=c1&tag=one-more").await).await;
    assert_error(status, &body, StatusCode::CONFLICT, "CONFLICT");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("distinct tags a month may ({max})")),
        "{message}"
    );
    let (status, body) = app.post(&requests_path, &key.auth, meter("one-more")).await;
    assert_error(status, &body, StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(app.log_head(), head, "nothing was recorded");
    // A new key's own tags are new this month too.
    let fresh = app
        .create_key(&olive.session, &olive.project_id, &["member"], &["fresh"])
        .await;
    let (status, _) = error_of(verify(&app, Some(&token(&fresh)), "/v1/listen").await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The month's own tags still pass, and so does a request with the key's tag alone.
    for uri in ["/v1/listen?tag=c7&tag=last", "/v1/listen"] {
        let answer = verify(&app, Some(&token(&key)), uri).await;
        assert_eq!(answer.status(), StatusCode::OK, "{uri}");
    }
    let (status, body) = app.post(&requests_path, &key.auth, meter("c7")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let metrics = app.state.metrics.render();
    let line = "steward_verify_answers_total{outcome=\"tag_limit_reached\"} 2";
    assert!(metrics.contains(line), "{line}: {metrics}");
}

#[tokio::test]
async fn the_service_behind_the_gateway_meters_with_the_callers_key_or_grant() {
    // Given: the check passed the project id upstream; the caller came with a grant.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &["apple"])
        .await;
    let (_, grant) = app.post("/v1/auth/grant", &key.auth, json!({})).await;
    let grant = Auth::Bearer(grant["access_token"].as_str().unwrap().to_owned());
    let checked = verify(&app, Some(&token(&key)), "/v1/listen?tag=pear").await;
    let project_id = checked.headers()["x-steward-project-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // When: it records what the request cost, with the same credentials.
    let mut recorded = Vec::new();
    for auth in [&key.auth, &grant] {
        let (status, body) = app
            .post(
                &format!("/v1/projects/{project_id}/requests"),
                auth,
                json!({"request_id": uuid(), "endpoint": "listen", "method": "sync",
                       "model": "nova-3", "units": {"audio_seconds": 60}, "code": 200,
                       "tags": ["pear"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        recorded.push(body);
    }
    // Then: both count, under the key's tags and the request's.
    let (_, usage) = app
        .get(
            &format!("/v1/projects/{project_id}/usage?tag=pear"),
            &olive.session,
        )
        .await;
    assert_eq!(usage["results"][0]["requests"], 2, "{usage}");
    // The credit spent is in the metrics' total.
    let spent: f64 = recorded
        .iter()
        .map(|body| body["usd"].as_f64().unwrap())
        .sum();
    let metrics = app.state.metrics.render();
    let counted: f64 = (metrics.lines())
        .find_map(|line| line.strip_prefix("steward_credit_consumed_usd_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        spent > 0.0 && (counted - spent).abs() < 1e-9,
        "{counted} {spent}"
    );
    // A grant is still refused by the rest of the management API.
    let (status, _) = app.get("/v1/projects", &grant).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_show_the_log_and_read_models() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    for _ in 0..3 {
        let (status, _) = app
            .get(
                &format!("/v1/projects/{}", olive.project_id),
                &olive.session,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = app
        .get(&format!("/v1/projects/{}", uuid()), &olive.session)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/no/such/route", &Auth::None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // When
    let response = (app.client.get(format!("{}/metrics", app.address)))
        .send()
        .await
        .unwrap();
    // Then
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    let head = app.log_head();
    for line in [
        "steward_http_requests_total{route=\"/v1/projects/{project_id}\",method=\"GET\",status=\"200\"} 3".to_owned(),
        "steward_http_requests_total{route=\"/v1/projects/{project_id}\",method=\"GET\",status=\"404\"} 1".to_owned(),
        "steward_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1".to_owned(),
        "steward_http_request_duration_seconds_count{route=\"/v1/projects/{project_id}\"} 4".to_owned(),
        format!("steward_log_head {head}"),
        format!("steward_projection_position{{projection=\"usage\"}} {head}"),
        "steward_outbox_pending 0".to_owned(),
        "# TYPE steward_commit_batch_commands histogram".to_owned(),
        "# TYPE steward_commit_flush_seconds histogram".to_owned(),
    ] {
        assert!(text.contains(&line), "{line}: {text}");
    }
    assert!(!text.contains(&olive.project_id), "no label per project");
}

#[tokio::test]
async fn the_check_is_asked_afresh_each_time_even_with_an_idempotency_key() {
    // Given: Envoy asks by POST and passes on the client's Idempotency-Key.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let ask = || {
        app.client
            .post(format!("{}/v1/auth/verify/v1/listen", app.address))
            .header("Authorization", token(&key))
            .header("Idempotency-Key", "client-retry-1")
            .header("Origin", "https://app.fruit.example")
            .send()
    };
    let first = ask().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    // The request context's headers, and no CORS: browsers never ask the check.
    assert!(first.headers().contains_key("dg-request-id"));
    assert_eq!(first.headers()["x-content-type-options"], "nosniff");
    assert!(!first.headers().contains_key("access-control-allow-origin"));
    // When: the key is deleted and the same question asked again.
    let (status, _) = app
        .delete(
            &format!("/v1/projects/{}/keys/{}", olive.project_id, key.id),
            &olive.session,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let again = ask().await.unwrap();
    // Then: the answer is today's, not a replay of the first.
    let (status, body) = error_of(again).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    // Other methods are refused with the error JSON, as on any route.
    for path in ["/v1/auth/verify", "/v1/auth/verify/v1/listen"] {
        let answer = (app.client.put(format!("{}{path}", app.address)))
            .send()
            .await
            .unwrap();
        let (status, body) = error_of(answer).await;
        assert_error(
            status,
            &body,
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        );
    }
    let (_, metrics) = app.get("/metrics", &Auth::None).await;
    let text = metrics.as_str().unwrap_or_default();
    assert!(
        text.contains(r#"route="/v1/auth/verify/{*original}",method="POST",status="200""#),
        "{text}"
    );
}
