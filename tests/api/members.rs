//! Members and roles: changing roles, the sole owner, leaving, demoted creators' keys.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn an_owner_promotes_a_member_and_the_sole_owner_cannot_be_demoted() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let scopes =
        |account: &str| format!("/v1/projects/{}/members/{account}/scopes", olive.project_id);
    // When
    let (status, body) = app
        .call(
            Method::PUT,
            &scopes(&mia.account_id),
            &olive.session,
            Some(json!({"scope": "admin"})),
        )
        .await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, read) = app.get(&scopes(&mia.account_id), &mia.session).await;
    assert_eq!(read, json!({"scopes": ["admin"]}));
    // The sole owner stays an owner.
    let head = app.log_head();
    let (status, body) = app
        .call(
            Method::PUT,
            &scopes(&olive.account_id),
            &olive.session,
            Some(json!({"scope": "member"})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "CONFLICT");
    // An admin cannot make an owner, and a scope must be a role.
    let (status, body) = app
        .call(
            Method::PUT,
            &scopes(&mia.account_id),
            &mia.session,
            Some(json!({"scope": "owner"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    let (status, body) = app
        .call(
            Method::PUT,
            &scopes(&mia.account_id),
            &olive.session,
            Some(json!({"scope": "keys:read"})),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    assert_eq!(app.log_head(), head);
}

#[tokio::test]
async fn a_demoted_creators_key_loses_what_the_creator_lost() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let adam = app.signup("adam@fruit.example").await;
    app.invite_and_accept(&olive, &adam, "admin").await;
    let admin_key = app
        .create_key(&adam.session, &olive.project_id, &["admin"], &[])
        .await;
    let members = format!("/v1/projects/{}/members", olive.project_id);
    assert_eq!(app.get(&members, &admin_key.auth).await.0, StatusCode::OK);
    // When
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("{members}/{}/scopes", adam.account_id),
            &olive.session,
            Some(json!({"scope": "member"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Then
    let (status, body) = app.get(&members, &admin_key.auth).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    let project = format!("/v1/projects/{}", olive.project_id);
    assert_eq!(app.get(&project, &admin_key.auth).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_member_leaves_but_the_sole_owner_may_not() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let key = app
        .create_key(&mia.session, &olive.project_id, &["member"], &[])
        .await;
    let leave = format!("/v1/projects/{}/leave", olive.project_id);
    // When
    let head = app.log_head();
    let (status, body) = app.delete(&leave, &olive.session).await;
    assert_error(status, &body, StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(app.log_head(), head);
    let (status, body) = app.delete(&leave, &mia.session).await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, projects) = app.get("/v1/projects", &mia.session).await;
    assert_eq!(projects["projects"].as_array().unwrap().len(), 1);
    let (status, body) = app
        .get(&format!("/v1/projects/{}", olive.project_id), &key.auth)
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    let (status, body) = app
        .get(&format!("/v1/projects/{}", olive.project_id), &mia.session)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "PROJECT_NOT_FOUND");
}
