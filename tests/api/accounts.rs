//! Signup, sessions, projects of an account, invitations, account deletion.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn signup_creates_an_account_a_project_and_200_dollars_expiring_a_year_later() {
    // Given
    let app = spawn_app().await;
    // When
    let olive = app.signup("Olive@Fruit.Example").await;
    // Then
    let (status, projects) = app.get("/v1/projects", &olive.session).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(projects["projects"][0]["project_id"], olive.project_id);
    assert_eq!(projects["projects"][0]["name"], "First's Project");
    let (_, balances) = app
        .get(
            &format!("/v1/projects/{}/balances", olive.project_id),
            &olive.session,
        )
        .await;
    assert_eq!(balances["balances"][0]["amount"], json!(200));
    assert_eq!(balances["balances"][0]["units"], "usd");
    assert_eq!(
        balances["balances"][0]["expiration"],
        "2027-11-01T09:00:00Z"
    );
}

#[tokio::test]
async fn a_taken_email_a_bad_email_and_a_short_password_are_refused_and_change_nothing() {
    // Given
    let app = spawn_app().await;
    app.signup("olive@fruit.example").await;
    let head = app.log_head();
    let signup = |email: &str, password: &str| json!({"email": email, "first_name": "A", "last_name": "B", "password": password});
    // When / Then
    let (status, body) = app
        .post(
            "/v1/signup",
            &Auth::None,
            signup("OLIVE@fruit.example", "long enough"),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "CONFLICT");
    let (status, body) = app
        .post(
            "/v1/signup",
            &Auth::None,
            signup("not-an-email", "long enough"),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    let (status, body) = app
        .post(
            "/v1/signup",
            &Auth::None,
            signup("ann@fruit.example", "short"),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    assert_eq!(app.log_head(), head);
}

#[tokio::test]
async fn closed_signup_is_refused_but_the_operator_still_creates_accounts() {
    // Given
    let app = spawn_app_with(|settings| settings.open_signup = false).await;
    // When
    let (status, body) = app
        .post(
            "/v1/signup",
            &Auth::None,
            json!({"email": "a@fruit.example", "first_name": "A", "last_name": "B",
                   "password": "long enough"}),
        )
        .await;
    // Then
    assert_error(status, &body, StatusCode::FORBIDDEN, "SIGNUP_CLOSED");
    assert_eq!(app.log_head(), 0);
    let (status, body) = app
        .post(
            "/v1/operator/accounts",
            &Auth::operator(),
            json!({"email": "a@fruit.example", "password": "long enough"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            "/v1/login",
            &Auth::None,
            json!({"email": "a@fruit.example", "password": "long enough"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn login_gives_a_session_logout_ends_it_and_sessions_expire() {
    // Given
    let app = spawn_app_with(|settings| settings.session_ttl_hours = 24).await;
    app.signup("olive@fruit.example").await;
    let login = |password: &str| json!({"email": "OLIVE@fruit.example", "password": password});
    // When: a wrong password, then the right one.
    let (status, body) = app
        .post("/v1/login", &Auth::None, login("wrong password"))
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    let (status, body) = app
        .post("/v1/login", &Auth::None, login("correct horse battery"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = Auth::Bearer(body["session_token"].as_str().unwrap().into());
    // Then: the session works until logout.
    assert_eq!(app.get("/v1/projects", &session).await.0, StatusCode::OK);
    let (status, _) = app.post("/v1/logout", &session, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get("/v1/projects", &session).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    // Then: another session dies of age.
    let (_, body) = app
        .post("/v1/login", &Auth::None, login("correct horse battery"))
        .await;
    let session = Auth::Bearer(body["session_token"].as_str().unwrap().into());
    app.clock.advance_seconds(24 * 3600);
    let (status, body) = app.get("/v1/projects", &session).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
}

#[tokio::test]
async fn an_account_keeps_its_newest_sessions_up_to_the_limit_and_others_keep_theirs() {
    // Given: Olive signed up (one session), Bob too
    let max = steward::limits::SESSIONS_PER_ACCOUNT_MAX;
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let bob = app.signup("bob@fruit.example").await;
    // Each login a second after the last, so that their order is their expiries' order.
    let login = || async {
        app.clock.advance_seconds(1);
        let credentials =
            json!({"email": "olive@fruit.example", "password": "correct horse battery"});
        let (status, body) = app.post("/v1/login", &Auth::None, credentials).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Auth::Bearer(body["session_token"].as_str().unwrap().into())
    };
    let app = &app;
    let works = |session: Auth| async move { app.get("/v1/projects", &session).await.0 };
    // When: she logs in until she holds the most sessions she may
    let mut sessions = Vec::new();
    for _ in 1..max {
        sessions.push(login().await);
    }
    // Then: every one works, the first too
    assert_eq!(works(olive.session.clone()).await, StatusCode::OK);
    assert_eq!(app.state.sessions.count().unwrap(), max as u64 + 1);
    // When: once more
    sessions.push(login().await);
    // Then: her oldest session ended; the others, and Bob's, still work
    assert_eq!(works(olive.session.clone()).await, StatusCode::UNAUTHORIZED);
    for session in [&sessions[0], &sessions[max - 1], &bob.session] {
        assert_eq!(works(session.clone()).await, StatusCode::OK);
    }
    assert_eq!(app.state.sessions.count().unwrap(), max as u64 + 1);
    // When: she logs one out and logs in again: there is room, nothing else ends
    let (status, _) = app.post("/v1/logout", &sessions[5], json!({})).await;
    assert_eq!(status, StatusCode::OK);
    login().await;
    assert_eq!(works(sessions[0].clone()).await, StatusCode::OK);
    assert_eq!(app.state.sessions.count().unwrap(), max as u64 + 1);
}

#[tokio::test]
async fn a_person_creates_projects_and_lists_all_of_theirs() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    // When
    let (status, created) = app
        .post(
            "/v1/projects",
            &olive.session,
            json!({"name": "Fruit Labs"}),
        )
        .await;
    // Then
    assert_eq!(status, StatusCode::OK, "{created}");
    let (_, listed) = app.get("/v1/projects", &olive.session).await;
    let mut names: Vec<&str> = listed["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["First's Project", "Fruit Labs"]);
    // A key cannot create projects: they belong to people.
    let key = app
        .create_key(&olive.session, &olive.project_id, &["owner"], &[])
        .await;
    let head = app.log_head();
    let (status, body) = app
        .post("/v1/projects", &key.auth, json!({"name": "Nope"}))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    assert_eq!(app.log_head(), head);
}

#[tokio::test]
async fn an_invitation_is_accepted_only_with_the_invited_address() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let adam = app.signup("Adam@Fruit.Example").await;
    let otto = app.signup("otto@elsewhere.example").await;
    let (status, body) = app
        .post(
            &format!("/v1/projects/{}/invites", olive.project_id),
            &olive.session,
            json!({"email": "adam@fruit.example", "scope": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = app.invitation_token("adam@fruit.example").await;
    // When: someone else tries the token.
    let head = app.log_head();
    let (status, body) = app
        .post(
            "/v1/invitations/accept",
            &otto.session,
            json!({ "token": token }),
        )
        .await;
    // Then
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    assert_eq!(app.log_head(), head);
    // When: the invitee accepts.
    let (status, body) = app
        .post(
            "/v1/invitations/accept",
            &adam.session,
            json!({ "token": token }),
        )
        .await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["project_id"], olive.project_id);
    let (_, members) = app
        .get(
            &format!("/v1/projects/{}/members", olive.project_id),
            &olive.session,
        )
        .await;
    let admin = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "adam@fruit.example")
        .unwrap();
    assert_eq!(admin["scopes"], json!(["admin"]));
    // The invitation is gone from the list.
    let (_, invites) = app
        .get(
            &format!("/v1/projects/{}/invites", olive.project_id),
            &olive.session,
        )
        .await;
    assert_eq!(invites["invites"], json!([]));
}

#[tokio::test]
async fn a_resent_invitation_kills_the_old_token_and_a_revoked_one_kills_both() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let nina = app.signup("nina@fruit.example").await;
    let invites = format!("/v1/projects/{}/invites", olive.project_id);
    app.post(
        &invites,
        &olive.session,
        json!({"email": "nina@fruit.example", "scope": "member"}),
    )
    .await;
    let first = app.invitation_token("nina@fruit.example").await;
    // When
    let (status, body) = app
        .post(
            &format!("{invites}/nina@fruit.example/resend"),
            &olive.session,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = app.invitation_token("nina@fruit.example").await;
    // Then
    assert_ne!(first, second);
    let (status, body) = app
        .post(
            "/v1/invitations/accept",
            &nina.session,
            json!({ "token": first }),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (_, listed) = app.get(&invites, &olive.session).await;
    // Without an SMTP server the (new) email waits in the outbox.
    assert_eq!(
        listed["invites"],
        json!([{"email": "nina@fruit.example", "scope": "member", "delivery": "pending"}])
    );
    // When: revoked.
    let (status, _) = app
        .delete(&format!("{invites}/nina@fruit.example"), &olive.session)
        .await;
    assert_eq!(status, StatusCode::OK);
    // Then
    let (status, body) = app
        .post(
            "/v1/invitations/accept",
            &nina.session,
            json!({ "token": second }),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn an_expired_invitation_is_gone() {
    // Given
    let app = spawn_app_with(|settings| settings.invitation_ttl_hours = 48).await;
    let olive = app.signup("olive@fruit.example").await;
    let nina = app.signup("nina@fruit.example").await;
    app.post(
        &format!("/v1/projects/{}/invites", olive.project_id),
        &olive.session,
        json!({"email": "nina@fruit.example", "scope": "member"}),
    )
    .await;
    let token = app.invitation_token("nina@fruit.example").await;
    // When
    app.advance_days(2);
    let (status, body) = app
        .post(
            "/v1/invitations/accept",
            &nina.session,
            json!({ "token": token }),
        )
        .await;
    // Then
    assert_error(status, &body, StatusCode::GONE, "INVITATION_EXPIRED");
}

#[tokio::test]
async fn a_deleted_account_keys_die_and_its_sessions_end() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mia = app.signup("mia@fruit.example").await;
    app.invite_and_accept(&olive, &mia, "member").await;
    let key = app
        .create_key(&mia.session, &olive.project_id, &["member"], &[])
        .await;
    let project = format!("/v1/projects/{}", olive.project_id);
    assert_eq!(app.get(&project, &key.auth).await.0, StatusCode::OK);
    // When
    let (status, body) = app.delete("/v1/account", &mia.session).await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.get(&project, &key.auth).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    let (status, body) = app.get("/v1/projects", &mia.session).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
    // The sole owner of a project others belong to may not delete their account.
    let adam = app.signup("adam@fruit.example").await;
    app.invite_and_accept(&olive, &adam, "member").await;
    let head = app.log_head();
    let (status, body) = app.delete("/v1/account", &olive.session).await;
    assert_error(status, &body, StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(app.log_head(), head);
}
