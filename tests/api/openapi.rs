//! `/openapi.json` documents every route the server answers.

use crate::helpers::*;
use reqwest::StatusCode;
use std::collections::BTreeSet;

/// Every route: Deepgram's Management API v1 and Steward's own.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/projects"),
    ("post", "/v1/projects"),
    ("get", "/v1/projects/{project_id}"),
    ("patch", "/v1/projects/{project_id}"),
    ("delete", "/v1/projects/{project_id}"),
    ("delete", "/v1/projects/{project_id}/leave"),
    ("get", "/v1/projects/{project_id}/keys"),
    ("post", "/v1/projects/{project_id}/keys"),
    ("get", "/v1/projects/{project_id}/keys/{key_id}"),
    ("delete", "/v1/projects/{project_id}/keys/{key_id}"),
    ("get", "/v1/projects/{project_id}/members"),
    ("delete", "/v1/projects/{project_id}/members/{member_id}"),
    (
        "get",
        "/v1/projects/{project_id}/members/{member_id}/scopes",
    ),
    (
        "put",
        "/v1/projects/{project_id}/members/{member_id}/scopes",
    ),
    ("get", "/v1/projects/{project_id}/invites"),
    ("post", "/v1/projects/{project_id}/invites"),
    ("delete", "/v1/projects/{project_id}/invites/{email}"),
    ("post", "/v1/projects/{project_id}/invites/{email}/resend"),
    ("get", "/v1/projects/{project_id}/balances"),
    ("get", "/v1/projects/{project_id}/balances/{balance_id}"),
    ("get", "/v1/projects/{project_id}/purchases"),
    ("get", "/v1/projects/{project_id}/requests"),
    ("post", "/v1/projects/{project_id}/requests"),
    ("get", "/v1/projects/{project_id}/requests/{request_id}"),
    ("get", "/v1/projects/{project_id}/usage"),
    ("get", "/v1/projects/{project_id}/usage/breakdown"),
    ("get", "/v1/projects/{project_id}/usage/fields"),
    ("get", "/v1/projects/{project_id}/billing/breakdown"),
    ("get", "/v1/projects/{project_id}/billing/fields"),
    ("get", "/v1/projects/{project_id}/audit"),
    ("post", "/v1/projects/{project_id}/requests/batch"),
    ("post", "/v1/transfers"),
    ("post", "/v1/signup"),
    ("post", "/v1/login"),
    ("post", "/v1/logout"),
    ("delete", "/v1/account"),
    ("post", "/v1/invitations/accept"),
    ("get", "/v1/operator/outbox"),
    ("get", "/v1/operator/projections"),
    ("post", "/v1/operator/accounts"),
    ("delete", "/v1/operator/accounts/{account_id}"),
    ("post", "/v1/operator/projects/{project_id}/credits"),
    ("get", "/v1/models"),
    ("get", "/v1/models/{model_id}"),
    ("get", "/v1/projects/{project_id}/models"),
    ("get", "/v1/projects/{project_id}/models/{model_id}"),
    (
        "put",
        "/v1/operator/projects/{project_id}/models/{model_id}",
    ),
    (
        "delete",
        "/v1/operator/projects/{project_id}/models/{model_id}",
    ),
    ("post", "/v1/auth/grant"),
    ("get", "/.well-known/jwks.json"),
    ("post", "/v1/operator/grant-keys/rotate"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    (
        "get",
        "/v1/projects/{project_id}/members/{member_id}/offboarding",
    ),
    ("get", "/v1/projects/{project_id}/keys/{key_id}/permissions"),
    ("get", "/v1/auth/whoami"),
    ("post", "/v1/projects/{project_id}/keys/{key_id}/owner"),
    ("post", "/v1/projects/{project_id}/keys/{key_id}/rotate"),
    ("get", "/v1/projects/{project_id}/tags"),
    ("get", "/v1/projects/{project_id}/tags/{tag}/budget"),
    ("put", "/v1/projects/{project_id}/tags/{tag}/budget"),
    ("delete", "/v1/projects/{project_id}/tags/{tag}/budget"),
    ("get", "/v1/auth/verify"),
    ("post", "/v1/auth/verify"),
];

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_answers() {
    // Given
    let app = spawn_app().await;
    // When
    let (status, document) = app.get("/openapi.json", &Auth::None).await;
    // Then
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, operations)| {
            operations
                .as_object()
                .unwrap()
                .keys()
                .filter(|method| {
                    ["get", "post", "put", "patch", "delete"].contains(&method.as_str())
                })
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(documented, expected);
    // And every documented route is served: none answers the unknown-route 404.
    for (method, path) in &expected {
        let concrete = path
            .replace("{email}", "a@b.example")
            .split('/')
            .map(|part| {
                if part.starts_with('{') {
                    uuid()
                } else {
                    part.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (_, body) = app.call(method, &concrete, &Auth::None, None).await;
        assert_ne!(body["message"], "Route not found.", "{path}");
    }
}
