//! Keys: creation shows the secret once, listing by what the caller may read, removal of the
//! creator kills the key on the very next request.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn a_created_key_shows_its_secret_once_and_acts_with_its_scopes() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let keys = format!("/v1/projects/{}/keys", olive.project_id);
    // When
    let (status, created) = app
        .post(
            &keys,
            &olive.session,
            json!({"comment": "apple backend", "scopes": ["member"], "tags": ["apple"],
                   "time_to_live_in_seconds": 3600}),
        )
        .await;
    // Then
    assert_eq!(status, StatusCode::OK, "{created}");
    let secret = created["key"].as_str().unwrap();
    assert!(
        secret.starts_with("stw_key_") && secret.len() == 72,
        "{secret}"
    );
    assert_eq!(created["scopes"], json!(["member"]));
    assert_eq!(created["tags"], json!(["apple"]));
    assert_eq!(created["expiration_date"], "2026-11-01T10:00:00Z");
    let (_, listed) = app.get(&keys, &olive.session).await;
    let listed_key = &listed["api_keys"][0];
    assert_eq!(listed_key["api_key"]["api_key_id"], created["api_key_id"]);
    assert_eq!(listed_key["member"]["email"], "olive@fruit.example");
    assert!(
        listed.to_string().find(secret).is_none(),
        "the secret is never listed"
    );
    let (status, item) = app
        .get(
            &format!("{keys}/{}", created["api_key_id"].as_str().unwrap()),
            &olive.session,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{item}");
    assert_eq!(
        item["item"]["member"]["api_key"]["comment"],
        "apple backend"
    );
    // The key works until it expires.
    let key = Auth::Key(secret.into());
    let project = format!("/v1/projects/{}", olive.project_id);
    assert_eq!(app.get(&project, &key).await.0, StatusCode::OK);
    app.clock.advance_seconds(3600);
    let (status, body) = app.get(&project, &key).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    let (_, expired) = app
        .get(&format!("{keys}?status=expired"), &olive.session)
        .await;
    assert_eq!(expired["api_keys"].as_array().unwrap().len(), 1);
    let (_, active) = app
        .get(&format!("{keys}?status=active"), &olive.session)
        .await;
    assert_eq!(active["api_keys"], json!([]));
}

#[tokio::test]
async fn bad_key_requests_are_refused_and_change_nothing() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let keys = format!("/v1/projects/{}/keys", olive.project_id);
    let head = app.log_head();
    // When / Then
    for (auth, body, status, category) in [
        (
            &olive.session,
            json!({"comment": "x", "scopes": ["keys:everything"]}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &olive.session,
            json!({"comment": "x", "scopes": []}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &olive.session,
            json!({"comment": "x", "scopes": ["member"], "tags": ["x".repeat(129)]}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &olive.session,
            json!({"comment": "x", "scopes": ["member"], "expiration_date": "2020-01-01"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &olive.session,
            json!({"comment": "x", "scopes": ["member"], "expiration_date": "soon"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &olive.session,
            json!({"comment": "x", "scopes": ["member"], "time_to_live_in_seconds": 0}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &olive.session,
            json!({"comment": "x", "scopes": ["member"], "expiration_date": "2027-01-01", "time_to_live_in_seconds": 60}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &olive.session,
            json!({"comment": "x", "scopes": ["member"], "colour": "red"}),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            &olive.session,
            json!({"comment": 7, "scopes": ["member"]}),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            &mia.session,
            json!({"comment": "x", "scopes": ["admin"]}),
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
        ),
        (
            &mia.session,
            json!({"comment": "x", "scopes": ["billing:read"]}),
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
        ),
    ] {
        let (got, answer) = app.post(&keys, auth, body.clone()).await;
        assert_error(got, &answer, status, category);
        assert_eq!(app.log_head(), head, "{body}");
    }
}

#[tokio::test]
async fn a_member_sees_only_their_own_keys_and_an_owner_sees_all() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let owners = app
        .create_key(&olive.session, &olive.project_id, &["owner"], &[])
        .await;
    let mias = app
        .create_key(&mia.session, &olive.project_id, &["member"], &["pear"])
        .await;
    let keys = format!("/v1/projects/{}/keys", olive.project_id);
    // When
    let (_, seen_by_mia) = app.get(&keys, &mias.auth).await;
    let (_, seen_by_olive) = app.get(&keys, &owners.auth).await;
    // Then
    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["api_key"]["api_key_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&seen_by_mia), std::slice::from_ref(&mias.id));
    assert_eq!(ids(&seen_by_olive), [owners.id.clone(), mias.id.clone()]);
    let (status, body) = app.get(&format!("{keys}/{}", owners.id), &mias.auth).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn removing_a_member_kills_their_keys_on_the_very_next_request() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let pear = app
        .create_key(&mia.session, &olive.project_id, &["member"], &["pear"])
        .await;
    let project = format!("/v1/projects/{}", olive.project_id);
    assert_eq!(app.get(&project, &pear.auth).await.0, StatusCode::OK);
    // When
    let (status, body) = app
        .delete(
            &format!("{project}/members/{}", mia.account_id),
            &olive.session,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Then
    let (status, body) = app.get(&project, &pear.auth).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    // And rejoining does not revive it.
    app.invite_and_accept(&olive, &mia, "member").await;
    let (status, body) = app.get(&project, &pear.auth).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
}

#[tokio::test]
async fn a_deleted_key_stops_working_and_is_not_listed() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let keys = format!("/v1/projects/{}/keys", olive.project_id);
    // When
    let (status, _) = app
        .delete(&format!("{keys}/{}", key.id), &olive.session)
        .await;
    // Then
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = app.get(&keys, &olive.session).await;
    assert_eq!(listed["api_keys"], json!([]));
    let (status, body) = app.get(&keys, &key.auth).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    let (status, body) = app
        .delete(&format!("{keys}/{}", key.id), &olive.session)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn why_not_explains_a_keys_missing_scopes_by_its_creators_role_or_its_end() {
    // Given: Adam, an admin, made a key with admin scopes, then was demoted to member; Mia made
    // a member key and was removed; an expired key of Olive's.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let adam = app.signup("adam@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &adam, "admin").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let project = &olive.project_id;
    let adams = app
        .create_key(&adam.session, project, &["admin", "usage:read"], &[])
        .await;
    let mias = app
        .create_key(&mia.session, project, &["member"], &[])
        .await;
    let (status, expiring) = app
        .post(
            &format!("/v1/projects/{project}/keys"),
            &olive.session,
            json!({"comment": "soon", "scopes": ["member"], "time_to_live_in_seconds": 60}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{expiring}");
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/v1/projects/{project}/members/{}/scopes", adam.account_id),
            &olive.session,
            Some(json!({"scope": "member"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .delete(
            &format!("/v1/projects/{project}/members/{}", mia.account_id),
            &olive.session,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.advance_days(1);
    let why = |key_id: &str| format!("/v1/projects/{project}/keys/{key_id}/permissions");
    let head = app.log_head();
    // When
    let (status, demoted) = app.get(&why(&adams.id), &olive.session).await;
    // Then: the admin scope is beyond the creator's role now; usage:read is not.
    assert_eq!(status, StatusCode::OK, "{demoted}");
    assert_eq!(demoted["scopes"], json!(["admin", "usage:read"]));
    assert_eq!(demoted["creator"]["email"], "adam@fruit.example");
    assert_eq!(demoted["owner"]["email"], "adam@fruit.example");
    assert_eq!(demoted["owner"]["scope"], "member");
    assert_eq!(
        demoted["missing"],
        json!([{"scope": "admin", "reason": "creator_role"}])
    );
    let effective = demoted["effective_scopes"].as_array().unwrap();
    assert!(
        effective.contains(&json!("usage:read")) && !effective.contains(&json!("members:read"))
    );
    let (_, removed) = app.get(&why(&mias.id), &olive.session).await;
    assert_eq!(
        removed["missing"],
        json!([{"scope": "member", "reason": "creator_left"}])
    );
    assert_eq!(removed["owner"]["scope"], Value::Null);
    assert_eq!(removed["effective_scopes"], json!([]));
    let expired_id = expiring["api_key_id"].as_str().unwrap();
    let (_, expired) = app.get(&why(expired_id), &olive.session).await;
    assert_eq!(
        expired["missing"],
        json!([{"scope": "member", "reason": "expired"}])
    );
    assert_eq!(app.log_head(), head, "asking changes nothing");
    // whoami: the caller's own key, even one that no longer works.
    let (status, own) = app.get("/v1/auth/whoami", &mias.auth).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["kind"], "key");
    assert_eq!(own["key"]["api_key_id"], mias.id);
    assert_eq!(own["key"]["missing"][0]["reason"], "creator_left");
    assert_eq!(
        own["key"]["creator"]["email"], "",
        "a dead key's secret names nobody"
    );
    assert_eq!(own["key"]["owner"]["email"], "");
    let (_, working) = app.get("/v1/auth/whoami", &adams.auth).await;
    assert_eq!(working["key"]["creator"]["email"], "adam@fruit.example");
    let (_, session) = app.get("/v1/auth/whoami", &olive.session).await;
    assert_eq!(session["kind"], "session");
    assert_eq!(session["account_id"], olive.account_id);
    let (_, operator) = app.get("/v1/auth/whoami", &Auth::operator()).await;
    assert_eq!(operator["kind"], "operator");
    // Refusals: an unknown secret is 401; a member may not see another's key; none is 404.
    let (status, body) = app
        .get("/v1/auth/whoami", &Auth::Key("stw_key_nope".into()))
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    let (status, body) = app.get(&why(expired_id), &adams.auth).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (status, body) = app.get(&why(&uuid()), &olive.session).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
}
