//! The outbox without an SMTP server: each invitation's email waits there, written with the
//! invitation, and a refused invitation writes none.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn an_invitation_writes_its_email_and_a_refused_one_writes_none() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let invites = format!("/v1/projects/{}/invites", olive.project_id);
    let (status, body) = app
        .post(
            &invites,
            &olive.session,
            json!({"email": "mia@fruit.example", "scope": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, outbox) = app.get("/v1/operator/outbox", &Auth::operator()).await;
    let messages = outbox["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{outbox}");
    let message = &messages[0];
    assert_eq!(message["to"], "mia@fruit.example");
    assert_eq!(message["delivery"]["state"], "pending");
    assert_eq!(message["delivery"]["attempts"], 0);
    let token = message["token"].as_str().unwrap();
    let link = format!("/console/invitations/accept?token={token}");
    assert!(
        message["body"].as_str().unwrap().contains(&link),
        "{message}"
    );
    assert!(
        message["html"].as_str().unwrap().contains(&link),
        "{message}"
    );
    assert!(message["body"].as_str().unwrap().contains("as admin"));
    // The pending invitation shows its email's delivery.
    let (_, listed) = app.get(&invites, &olive.session).await;
    assert_eq!(listed["invites"][0]["delivery"], "pending", "{listed}");
    // Refused (already invited; not a role): nothing recorded, no email.
    let head = app.log_head();
    for body in [
        json!({"email": "mia@fruit.example", "scope": "member"}),
        json!({"email": "pat@fruit.example", "scope": "wizard"}),
    ] {
        let (status, answer) = app.post(&invites, &olive.session, body).await;
        assert!(status.is_client_error(), "{answer}");
    }
    let resend = format!("{invites}/nobody@fruit.example/resend");
    let (status, _) = app.post(&resend, &olive.session, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.log_head(), head);
    let (_, outbox) = app.get("/v1/operator/outbox", &Auth::operator()).await;
    assert_eq!(outbox["messages"].as_array().unwrap().len(), 1, "{outbox}");
}
