//! Keys that outlive their people and their secrets: hand-over, removal with reassignment,
//! rotation with overlap; and per-tag budgets, on metering and on the gateway's check.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Olive owns the Fruit Company; Adam is an admin and Mia a member with a key.
async fn fruit_company() -> (TestApp, Person, Person, Person, Key) {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let adam = app.signup("adam@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &adam, "admin").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let key = app
        .create_key(&mia.session, &olive.project_id, &["member"], &["apple"])
        .await;
    (app, olive, adam, mia, key)
}

#[tokio::test]
async fn a_handed_over_key_keeps_working_when_its_creator_leaves() {
    // Given
    let (app, olive, adam, mia, key) = fruit_company().await;
    let project = &olive.project_id;
    let owner_path = format!("/v1/projects/{project}/keys/{}/owner", key.id);
    // When
    let (status, body) = app
        .post(
            &owner_path,
            &olive.session,
            json!({"member_id": adam.account_id}),
        )
        .await;
    // Then: the same key, now Adam's.
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["api_key"]["api_key_id"], key.id);
    assert_eq!(body["member"]["email"], "adam@fruit.example");
    let (_, permissions) = app
        .get(
            &format!("/v1/projects/{project}/keys/{}/permissions", key.id),
            &olive.session,
        )
        .await;
    assert_eq!(permissions["creator"]["email"], "mia@fruit.example");
    assert_eq!(permissions["owner"]["email"], "adam@fruit.example");
    assert_eq!(permissions["owner"]["scope"], "admin");
    // Mia is removed: the key, with the same secret, still meters.
    let (status, _) = app
        .delete(
            &format!("/v1/projects/{project}/members/{}", mia.account_id),
            &olive.session,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.meter(&key, project, &uuid(), 10, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Adam leaving ends it.
    let (status, _) = app
        .delete(&format!("/v1/projects/{project}/leave"), &adam.session)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.meter(&key, project, &uuid(), 10, &[]).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
}

#[tokio::test]
async fn a_refused_hand_over_changes_nothing() {
    // Given
    let (app, olive, adam, mia, key) = fruit_company().await;
    let project = &olive.project_id;
    let owners_key = app
        .create_key(&olive.session, project, &["owner"], &[])
        .await;
    let path = |key_id: &str| format!("/v1/projects/{project}/keys/{key_id}/owner");
    let head = app.log_head();
    // When / Then: an admin may not take an owner's key; a member may not hand over at all;
    // the member must be one; the body must be one.
    let (status, body) = app
        .post(
            &path(&owners_key.id),
            &adam.session,
            json!({"member_id": adam.account_id}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    let (status, body) = app
        .post(
            &path(&key.id),
            &mia.session,
            json!({"member_id": adam.account_id}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    let (status, body) = app
        .post(&path(&key.id), &olive.session, json!({"member_id": uuid()}))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (status, body) = app
        .post(
            &path(&key.id),
            &olive.session,
            json!({"member": adam.account_id}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app
        .post(
            &path(&uuid()),
            &olive.session,
            json!({"member_id": adam.account_id}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(app.log_head(), head, "a refusal records nothing");
}

#[tokio::test]
async fn removing_a_member_can_hand_their_keys_over_in_the_same_append() {
    // Given
    let (app, olive, adam, mia, key) = fruit_company().await;
    let project = &olive.project_id;
    let remove = |to: &str| {
        format!(
            "/v1/projects/{project}/members/{}?reassign_keys_to={to}",
            mia.account_id
        )
    };
    let head = app.log_head();
    // Refused: to the member removed, to a stranger, to no id at all; nothing changes.
    let (status, body) = app.delete(&remove(&mia.account_id), &olive.session).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    let (status, body) = app.delete(&remove(&uuid()), &olive.session).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (status, body) = app.delete(&remove("adam"), &olive.session).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY_PARAMETER",
    );
    assert_eq!(app.log_head(), head);
    // When
    let (status, body) = app.delete(&remove(&adam.account_id), &olive.session).await;
    // Then: one hand-over and the removal, and the key works on.
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.log_head(), head + 2);
    let (status, body) = app.meter(&key, project, &uuid(), 10, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, audit) = app
        .get(
            &format!("/v1/projects/{project}/audit?limit=5"),
            &olive.session,
        )
        .await;
    assert!(
        audit.to_string().contains("api_key_owner_changed"),
        "{audit}"
    );
}

#[tokio::test]
async fn a_rotated_secret_works_until_its_overlap_ends_then_never_again() {
    // Given
    let (app, olive, _adam, mia, old) = fruit_company().await;
    let project = &olive.project_id;
    let rotate = format!("/v1/projects/{project}/keys/{}/rotate", old.id);
    // When
    let (status, body) = app
        .post(&rotate, &mia.session, json!({"overlap_seconds": 3600}))
        .await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["api_key_id"], old.id);
    let expires = start_time().plus_seconds(3600).to_rfc3339();
    assert!(
        body["previous_key_expires_at"].as_str().unwrap() >= expires.as_str(),
        "{body}"
    );
    let new = Key {
        id: old.id.clone(),
        auth: Auth::Key(body["key"].as_str().unwrap().into()),
    };
    for key in [&old, &new] {
        let (status, body) = app.meter(key, project, &uuid(), 10, &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    app.clock.advance_seconds(3601);
    let (status, body) = app.meter(&old, project, &uuid(), 10, &[]).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    let (status, body) = app.meter(&new, project, &uuid(), 10, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The usage stays with the one key id.
    let (_, requests) = app
        .get(
            &format!("/v1/projects/{project}/requests?limit=10"),
            &olive.session,
        )
        .await;
    let requests = requests["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 3);
    // An overlap of 0 ends the secret at once; one beyond 7 days is refused.
    let (_, body) = app
        .post(&rotate, &mia.session, json!({"overlap_seconds": 0}))
        .await;
    let (status, _) = app.meter(&new, project, &uuid(), 10, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let newest = Key {
        id: old.id.clone(),
        auth: Auth::Key(body["key"].as_str().unwrap().into()),
    };
    let head = app.log_head();
    for overlap in [json!(-1), json!(604_801), json!("soon")] {
        let (status, body) = app
            .post(&rotate, &mia.session, json!({"overlap_seconds": overlap}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(app.log_head(), head);
    let (status, _) = app.meter(&newest, project, &uuid(), 10, &[]).await;
    assert_eq!(status, StatusCode::OK);
}

async fn put_budget(
    app: &TestApp,
    auth: &Auth,
    project: &str,
    tag: &str,
    body: Value,
) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        &format!("/v1/projects/{project}/tags/{tag}/budget"),
        auth,
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_hard_budget_refuses_the_request_that_would_pass_it_and_records_nothing() {
    // Given: the apple key's requests cost $0.0043 a minute of nova-3.
    let (app, olive, adam, _mia, key) = fruit_company().await;
    let project = &olive.project_id;
    let (status, body) = put_budget(
        &app,
        &olive.session,
        project,
        "apple",
        json!({"monthly_usd": "0.01", "hard": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["budget"]["monthly_usd"], json!(0.01));
    // An admin may not change billing; a bad amount is refused.
    let (status, body) = put_budget(
        &app,
        &adam.session,
        project,
        "apple",
        json!({"monthly_usd": 1, "hard": true}),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    let (status, _) = put_budget(
        &app,
        &olive.session,
        project,
        "apple",
        json!({"monthly_usd": -1, "hard": true}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // When: two minutes ($0.0086) fit; the next minute would pass $0.01.
    let (status, body) = app.meter(&key, project, &uuid(), 120, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let head = app.log_head();
    let (status, body) = app.meter(&key, project, &uuid(), 60, &[]).await;
    // Then
    assert_error(
        status,
        &body,
        StatusCode::PAYMENT_REQUIRED,
        "ASR_PAYMENT_REQUIRED",
    );
    assert!(
        body["message"].as_str().unwrap().contains("\"apple\""),
        "{body}"
    );
    assert_eq!(app.log_head(), head, "nothing recorded");
    let (_, tags) = app
        .get(&format!("/v1/projects/{project}/tags"), &olive.session)
        .await;
    assert_eq!(tags["tags"][0]["tag"], "apple");
    assert_eq!(tags["tags"][0]["spent_usd"], json!(0.0086));
    assert_eq!(tags["tags"][0]["budget"]["hard"], true);
    // A budget whose spend is reached also refuses at the gateway: lower it to the spend.
    put_budget(
        &app,
        &olive.session,
        project,
        "apple",
        json!({"monthly_usd": "0.0086", "hard": true}),
    )
    .await;
    let Auth::Key(secret) = &key.auth else {
        unreachable!()
    };
    let response = app
        .client
        .get(format!("{}/v1/auth/verify", app.address))
        .header("Authorization", format!("Token {secret}"))
        .header("X-Original-URI", "/v1/listen?model=nova-3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("\"apple\""),
        "{body}"
    );
    // Removed, the budget holds no more.
    let budget = format!("/v1/projects/{project}/tags/apple/budget");
    let (status, _) = app.delete(&budget, &olive.session).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get(&budget, &olive.session).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (status, _) = app.meter(&key, project, &uuid(), 60, &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_soft_budget_records_the_request_and_once_a_month_that_it_passed() {
    // Given
    let (app, olive, _adam, _mia, key) = fruit_company().await;
    let project = &olive.project_id;
    put_budget(
        &app,
        &olive.session,
        project,
        "batch-7",
        json!({"monthly_usd": "0.005", "hard": false}),
    )
    .await;
    // When: two requests of a minute each carry the tag; the first passes the budget.
    for _ in 0..2 {
        let (status, body) = app.meter(&key, project, &uuid(), 120, &["batch-7"]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Then
    let (_, audit) = app
        .get(
            &format!("/v1/projects/{project}/audit?type=tag_budget_passed"),
            &olive.session,
        )
        .await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 1, "{audit}");
    let (_, budget) = app
        .get(
            &format!("/v1/projects/{project}/tags/batch-7/budget"),
            &olive.session,
        )
        .await;
    assert_eq!(budget["budget"]["passed_this_month"], true);
    assert_eq!(budget["spent_usd"], json!(0.0172));
    let (_, metrics) = app.get("/metrics", &Auth::None).await;
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(
        metrics.contains("steward_tag_budgets_passed_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn lists_answer_as_of_any_instant_from_the_log() {
    // Given: Mia is invited at 9:00, joins with a key at 10:00, becomes an admin at 11:00 and
    // is removed at 12:00; Adam's invitation, sent at 9:00, is revoked at 10:00.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    let project = &olive.project_id;
    let base = format!("/v1/projects/{project}");
    for email in ["mia@fruit.example", "adam@fruit.example"] {
        let (status, _) = app
            .post(
                &format!("{base}/invites"),
                &olive.session,
                json!({"email": email, "scope": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    app.clock.advance_seconds(3600);
    let token = app.invitation_token("mia@fruit.example").await;
    let (status, _) = app
        .post(
            "/v1/invitations/accept",
            &mia.session,
            json!({"token": token}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.delete(
        &format!("{base}/invites/adam@fruit.example"),
        &olive.session,
    )
    .await;
    let key = app
        .create_key(&mia.session, project, &["member"], &[])
        .await;
    app.clock.advance_seconds(3600);
    app.call(
        Method::PUT,
        &format!("{base}/members/{}/scopes", mia.account_id),
        &olive.session,
        Some(json!({"scope": "admin"})),
    )
    .await;
    app.clock.advance_seconds(3600);
    app.delete(
        &format!("{base}/members/{}", mia.account_id),
        &olive.session,
    )
    .await;
    let at = |hour: &str| format!("2026-11-01T{hour}:30:00Z");
    let members = |hour: &'static str| {
        let (app, base, session) = (&app, &base, &olive.session);
        async move {
            let (status, body) = app
                .get(&format!("{base}/members?as_of={}", at(hour)), session)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let members = body["members"].as_array().unwrap().clone();
            members
                .iter()
                .map(|member| {
                    format!(
                        "{} {}",
                        member["email"].as_str().unwrap(),
                        member["scopes"][0].as_str().unwrap()
                    )
                })
                .collect::<Vec<String>>()
        }
    };
    // Then: who was in the project at each instant.
    assert_eq!(members("09").await, ["olive@fruit.example owner"]);
    let mut at_ten = members("10").await;
    at_ten.sort();
    assert_eq!(
        at_ten,
        ["mia@fruit.example member", "olive@fruit.example owner"]
    );
    assert!(members("11")
        .await
        .contains(&"mia@fruit.example admin".to_owned()));
    assert_eq!(members("12").await, ["olive@fruit.example owner"]);
    // Which invitations were pending.
    let (_, invites) = app
        .get(
            &format!("{base}/invites?as_of={}", at("09")),
            &olive.session,
        )
        .await;
    assert_eq!(invites["invites"].as_array().unwrap().len(), 2, "{invites}");
    let (_, invites) = app
        .get(
            &format!("{base}/invites?as_of={}", at("10")),
            &olive.session,
        )
        .await;
    assert_eq!(invites["invites"], json!([]));
    // Which keys worked: Mia's from 10:00 until her removal.
    let keys = |hour: &'static str| {
        let (app, base, session) = (&app, &base, &olive.session);
        async move {
            let (status, body) = app
                .get(&format!("{base}/keys?as_of={}", at(hour)), session)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["api_keys"].as_array().unwrap().clone()
        }
    };
    assert_eq!(keys("09").await, Vec::<Value>::new());
    let at_eleven = keys("11").await;
    assert_eq!(at_eleven.len(), 1);
    assert_eq!(at_eleven[0]["api_key"]["api_key_id"], key.id);
    assert_eq!(at_eleven[0]["member"]["email"], "mia@fruit.example");
    assert_eq!(keys("12").await, Vec::<Value>::new());
    // Bad instants and combinations are refused.
    for query in [
        "members?as_of=yesterday",
        "keys?as_of=2026-13-01",
        "keys?as_of=2026-11-01&status=active",
        "invites?as_of=noon",
    ] {
        let (status, body) = app.get(&format!("{base}/{query}"), &olive.session).await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_PARAMETER",
        );
    }
}
