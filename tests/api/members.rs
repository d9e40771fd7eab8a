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

#[tokio::test]
async fn the_offboarding_dry_run_lists_the_keys_that_would_die_with_their_last_30_days() {
    // Given: Mia, a member, with two keys, one of which made two requests today and one
    // 40 days ago.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let busy = app
        .create_key(&mia.session, &olive.project_id, &["member"], &["apple"])
        .await;
    let idle = app
        .create_key(&mia.session, &olive.project_id, &["member"], &[])
        .await;
    let (status, body) = app.meter(&busy, &olive.project_id, &uuid(), 60, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Sessions last a week; Olive acts through an owner key after the 40 days.
    let owner_key = app
        .create_key(&olive.session, &olive.project_id, &["owner"], &[])
        .await;
    let owner = Person {
        session: owner_key.auth.clone(),
        ..olive.clone()
    };
    app.advance_days(40);
    let mut spent = 0.0;
    for _ in 0..2 {
        let (status, body) = app.meter(&busy, &olive.project_id, &uuid(), 60, &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        spent += body["usd"].as_f64().unwrap();
    }
    let path = |member: &str| {
        format!(
            "/v1/projects/{}/members/{member}/offboarding",
            olive.project_id
        )
    };
    let head = app.log_head();
    // When
    let (status, dry_run) = app.get(&path(&mia.account_id), &owner.session).await;
    // Then: both keys, the busy one's two recent requests (not the old one); nothing recorded.
    assert_eq!(status, StatusCode::OK, "{dry_run}");
    assert_eq!(dry_run["member_id"], mia.account_id);
    assert_eq!(dry_run["email"], "mia@fruit.example");
    assert_eq!(dry_run["sole_owner"], false);
    let keys = dry_run["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{dry_run}");
    let of = |id: &str| keys.iter().find(|key| key["api_key_id"] == id).unwrap();
    assert_eq!(of(&busy.id)["requests_30d"], 2);
    assert_eq!(of(&busy.id)["usd_30d"].as_f64().unwrap(), spent);
    assert_eq!(of(&busy.id)["tags"], json!(["apple"]));
    assert_eq!(of(&idle.id)["requests_30d"], 0);
    assert_eq!(app.log_head(), head, "a dry run changes nothing");
    let (status, keys_left) = app
        .get(&format!("/v1/projects/{}", olive.project_id), &busy.auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{keys_left}");
    // The sole owner's dry run says removal would be refused.
    let (_, own) = app.get(&path(&olive.account_id), &owner.session).await;
    assert_eq!(own["sole_owner"], true, "{own}");
    // Refusals: a member may not ask; an unknown member is not found.
    let (status, body) = app.get(&path(&olive.account_id), &busy.auth).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    let (status, body) = app.get(&path(&uuid()), &owner.session).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    // An admin may ask about a member, not about an owner.
    let adam = app.signup("adam@fruit.example").await;
    app.invite_and_accept(&owner, &adam, "admin").await;
    let (status, _) = app.get(&path(&mia.account_id), &adam.session).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get(&path(&olive.account_id), &adam.session).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
}
