//! Keys: creation shows the secret once, listing by what the caller may read, removal of the
//! creator kills the key on the very next request.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

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
