//! Grant tokens: issued to a member's key, verifiable with the published keys, refused by the
//! management API, and dead once their key is.

use crate::helpers::*;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The claims of `token`, verified with the key of `jwks` its header names: what a gateway
/// does offline.
fn verify_offline(token: &str, jwks: &Value) -> Value {
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid.as_str())
        .expect("the token's key is published");
    let decoding =
        DecodingKey::from_ec_components(key["x"].as_str().unwrap(), key["y"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false; // the test clock is not the wall clock
    validation.set_issuer(&["steward"]);
    jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn a_members_key_gets_a_grant_bound_to_its_project_and_usage_scopes() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    // The default lifetime, with an empty body and with {}.
    for body in [None, Some(json!({}))] {
        let (status, grant) = app
            .call(reqwest::Method::POST, "/v1/auth/grant", &key.auth, body)
            .await;
        assert_eq!(status, StatusCode::OK, "{grant}");
        assert_eq!(grant["expires_in"], 30.0);
    }
    let (status, grant) = app
        .post("/v1/auth/grant", &key.auth, json!({"ttl_seconds": 600}))
        .await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    assert_eq!(grant["expires_in"], 600.0);
    let token = grant["access_token"].as_str().unwrap();
    let (status, jwks) = app.get("/.well-known/jwks.json", &Auth::None).await;
    assert_eq!(status, StatusCode::OK, "{jwks}");
    let claims = verify_offline(token, &jwks);
    assert_eq!(claims["project_id"], olive.project_id.as_str());
    assert_eq!(claims["sub"], key.id.as_str());
    assert_eq!(claims["scopes"], json!(["usage:read", "usage:write"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    // Steward itself accepts it with the key's usage scopes.
    let grants = &app.state.grants;
    let valid = app.state.steward.check_grant(grants, token).unwrap();
    assert_eq!(valid.key_id.to_string(), key.id);
    assert!(valid
        .permissions
        .contains(steward_events::Permission::UsageWrite));
    assert!(!valid
        .permissions
        .contains(steward_events::Permission::KeysWrite));
    // ... until it expires.
    app.clock.advance_seconds(600);
    assert!(app.state.steward.check_grant(grants, token).is_err());
}

#[tokio::test]
async fn the_management_api_refuses_a_grant() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["owner"], &[])
        .await;
    let (_, grant) = app.post("/v1/auth/grant", &key.auth, json!({})).await;
    let token = grant["access_token"].as_str().unwrap().to_owned();
    for auth in [Auth::Bearer(token.clone()), Auth::Key(token)] {
        let (status, body) = app.get("/v1/projects", &auth).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    }
}

#[tokio::test]
async fn only_a_key_with_member_scopes_gets_a_grant_and_the_ttl_is_bounded() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let reader = app
        .create_key(&olive.session, &olive.project_id, &["usage:read"], &[])
        .await;
    let member = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    for auth in [&reader.auth, &olive.session, &Auth::operator()] {
        let (status, body) = app.post("/v1/auth/grant", auth, json!({})).await;
        assert_error(
            status,
            &body,
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
        );
    }
    let (status, body) = app.post("/v1/auth/grant", &Auth::None, json!({})).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    for ttl in [json!(0), json!(0.5), json!(3601), json!(-30), json!("30")] {
        let (status, body) = app
            .post("/v1/auth/grant", &member.auth, json!({"ttl_seconds": ttl}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{ttl}: {body}");
        assert!(
            ["INVALID_REQUEST", "INVALID_JSON"].contains(&body["category"].as_str().unwrap()),
            "{body}"
        );
    }
    let (status, body) = app
        .post("/v1/auth/grant", &member.auth, json!({"ttl": 30}))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_JSON");
    let (status, body) = app
        .post("/v1/auth/grant", &member.auth, json!({"ttl_seconds": 3600}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_grant_dies_with_its_key_and_when_its_creator_leaves() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let olives = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let mias = app
        .create_key(&mia.session, &olive.project_id, &["member"], &[])
        .await;
    let grant = |key: Key| {
        let app = &app;
        async move {
            let (status, body) = app
                .post("/v1/auth/grant", &key.auth, json!({"ttl_seconds": 3600}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let (olive_grant, mia_grant) = (grant(olives.clone()).await, grant(mias).await);
    let check = |token: &str| app.state.steward.check_grant(&app.state.grants, token);
    assert!(check(&olive_grant).is_ok() && check(&mia_grant).is_ok());
    // Olive deletes her key; Mia leaves.
    let (status, _) = app
        .delete(
            &format!("/v1/projects/{}/keys/{}", olive.project_id, olives.id),
            &olive.session,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .delete(
            &format!("/v1/projects/{}/leave", olive.project_id),
            &mia.session,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        check(&olive_grant).unwrap_err(),
        steward::grants::GrantError::KeyEnded
    );
    assert_eq!(
        check(&mia_grant).unwrap_err(),
        steward::grants::GrantError::KeyEnded
    );
}

#[tokio::test]
async fn a_rotation_publishes_a_new_key_and_keeps_verifying_older_grants() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let (_, before) = app.post("/v1/auth/grant", &key.auth, json!({})).await;
    let (status, body) = app
        .post("/v1/operator/grant-keys/rotate", &olive.session, json!({}))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    let (status, rotated) = app
        .post(
            "/v1/operator/grant-keys/rotate",
            &Auth::operator(),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let (_, after) = app.post("/v1/auth/grant", &key.auth, json!({})).await;
    let (_, jwks) = app.get("/.well-known/jwks.json", &Auth::None).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks}");
    let token_after = after["access_token"].as_str().unwrap();
    let header = token_after.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["kid"], rotated["kid"]);
    for grant in [&before, &after] {
        let token = grant["access_token"].as_str().unwrap();
        verify_offline(token, &jwks);
        assert!(app
            .state
            .steward
            .check_grant(&app.state.grants, token)
            .is_ok());
    }
}
