//! The Console over HTTP, as a browser without JavaScript uses it: forms, cookies, redirects.
//! (The same flows in a real browser are the console issue's browser tests.)

use crate::helpers::*;
use reqwest::{header, StatusCode};
use serde_json::json;
use std::collections::BTreeMap;

/// A browser without JavaScript: keeps cookies, does not follow redirects.
pub struct Browser {
    client: reqwest::Client,
    base: String,
    pub cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub html: String,
    pub headers: header::HeaderMap,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        (self.cookies.iter())
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let location =
            (headers.get(header::LOCATION)).map(|value| value.to_str().unwrap().to_owned());
        let html = response.text().await.unwrap();
        Page {
            status,
            location,
            html,
            headers,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = (self.client.get(format!("{}{path}", self.base)))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    /// Submits a form with the CSRF token the visitor's cookie holds.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self
            .cookies
            .get("steward_csrf")
            .cloned()
            .unwrap_or_default();
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    pub async fn post_raw(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = (self.client.post(format!("{}{path}", self.base)))
            .header(header::COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    /// Follows a redirect answer.
    pub async fn follow(&mut self, page: Page) -> Page {
        let location = page
            .location
            .unwrap_or_else(|| panic!("not a redirect: {}", page.status));
        self.get(&location).await
    }
}

pub async fn signed_up(app: &TestApp, email: &str, first: &str) -> Browser {
    let mut browser = Browser::new(app);
    browser.get("/console/signup").await;
    let answer = browser
        .post(
            "/console/signup",
            &[
                ("email", email),
                ("first_name", first),
                ("last_name", "Grove"),
                ("password", "correct horse battery"),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.html);
    browser
}

#[tokio::test]
async fn a_signed_out_visitor_is_sent_to_log_in_and_the_pages_forbid_inline_script() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let home = browser.get("/console").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location.as_deref(), Some("/console/login"));
    let login = browser.follow(home).await;
    assert_eq!(login.status, StatusCode::OK);
    for label in ["Email", "Password", "Log in", "Sign up"] {
        assert!(login.html.contains(label), "{label}");
    }
    let csp = login.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(!login.html.contains("<script>"), "no inline script");
    // htmx is told not to add inline styles or evaluate script, which the policy forbids.
    assert!(
        login.html.contains("\"allowEval\": false"),
        "{}",
        login.html
    );
    assert!(browser.cookies.contains_key("steward_csrf"));
    let settings = browser
        .get("/console/projects/01a0f6b1-2680-7000-8000-000000000001/settings")
        .await;
    assert_eq!(settings.status, StatusCode::SEE_OTHER);
    assert!(settings
        .location
        .unwrap()
        .starts_with("/console/login?next=%2Fconsole%2Fprojects"));
    let asset = browser.get("/console/assets/htmx-2.0.11.min.js").await;
    assert_eq!(asset.status, StatusCode::OK);
    assert!(asset.html.contains("htmx"));
}

#[tokio::test]
async fn signing_up_with_bad_fields_shows_each_error_beside_its_field_and_creates_nothing() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let form = browser.get("/console/signup").await;
    for label in ["Email", "First name", "Last name", "Password", "Sign up"] {
        assert!(form.html.contains(label), "{label}");
    }
    let head = app.log_head();
    let refused = browser
        .post(
            "/console/signup",
            &[
                ("email", "not-an-address"),
                ("first_name", "Olive"),
                ("last_name", "Grove"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.html.contains("id=\"email-error\""),
        "{}",
        refused.html
    );
    assert!(
        refused.html.contains("id=\"password-error\""),
        "{}",
        refused.html
    );
    assert!(
        refused.html.contains("value=\"Olive\""),
        "the form keeps what was typed"
    );
    assert_eq!(app.log_head(), head);
    // A form without the visitor's CSRF token is refused.
    let forged = browser
        .post_raw(
            "/console/signup",
            &[
                ("csrf", "0"),
                ("email", "olive@fruit.example"),
                ("first_name", "Olive"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(app.log_head(), head);
}

#[tokio::test]
async fn a_person_signs_up_renames_creates_and_deletes_projects_and_logs_out() {
    let app = spawn_app().await;
    let mut olive = signed_up(&app, "olive@fruit.example", "Olive").await;
    let cookie = olive.cookies.get("steward_session").cloned().unwrap();
    assert!(!cookie.is_empty());
    // The first project opens.
    let home = olive.get("/console").await;
    let settings = olive.follow(home).await;
    assert_eq!(settings.status, StatusCode::OK);
    for label in [
        "Project Name",
        "Update",
        "Projects",
        "Create Project",
        "Log out",
        "olive@fruit.example",
    ] {
        assert!(settings.html.contains(label), "{label}");
    }
    let (_, projects) = app.get("/v1/projects", &Auth::Bearer(cookie.clone())).await;
    let project_id = projects["projects"][0]["project_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/console/projects/{project_id}/settings");
    // Rename: a bad name is shown beside the field and changes nothing; names are escaped.
    let head = app.log_head();
    let empty = olive.post(&path, &[("name", "   ")]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.html.contains("id=\"name-error\""));
    assert_eq!(app.log_head(), head);
    let renamed = olive
        .post(&path, &[("name", "<script>Fruit</script> & Co")])
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.html);
    // askama escapes with numeric references.
    let escaped = "&#60;script&#62;Fruit&#60;/script&#62; &#38; Co";
    assert!(renamed.html.contains(escaped), "{}", renamed.html);
    assert!(!renamed.html.contains("<script>Fruit"));
    let (_, project) = app
        .get(
            &format!("/v1/projects/{project_id}"),
            &Auth::Bearer(cookie.clone()),
        )
        .await;
    assert_eq!(project["name"], "<script>Fruit</script> & Co");
    // Create a second project; the dropdown lists both.
    let created = olive
        .post("/console/projects/new", &[("name", "Fruit Labs")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let labs = olive.follow(created).await;
    assert!(labs.html.contains("Fruit Labs") && labs.html.contains("&#60;script&#62;Fruit"));
    // Delete it: the name must be typed exactly.
    let labs_id = (labs.html.split("/console/projects/").nth(2).unwrap())
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let labs_delete = format!("/console/projects/{labs_id}/delete");
    let wrong = olive.post(&labs_delete, &[("confirm", "Fruit")]).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.html.contains("id=\"confirm-error\""));
    let deleted = olive.post(&labs_delete, &[("confirm", "Fruit Labs")]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    let (_, projects) = app.get("/v1/projects", &Auth::Bearer(cookie.clone())).await;
    assert_eq!(
        projects["projects"].as_array().unwrap().len(),
        1,
        "{projects}"
    );
    // The sole owner may not leave; the refusal is shown, with the API's status for it.
    let leave = olive
        .post(&format!("/console/projects/{project_id}/leave"), &[])
        .await;
    assert_eq!(leave.status, StatusCode::CONFLICT);
    assert!(leave.html.contains("id=\"leave-error\""));
    // Log out: the session ends.
    let out = olive.post("/console/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!olive.cookies.contains_key("steward_session"));
    let (status, _) = app.get("/v1/projects", &Auth::Bearer(cookie)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_invitation_link_is_accepted_after_signing_in_with_the_invited_address() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let (status, _) = app
        .post(
            &format!("/v1/projects/{}/invites", olive.project_id),
            &olive.session,
            json!({"email": "mia@fruit.example", "scope": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let token = app.invitation_token("mia@fruit.example").await;
    let link = format!("/console/invitations/accept?token={token}");
    // Signed out: log in first, and come back.
    let mut mia = Browser::new(&app);
    let away = mia.get(&link).await;
    assert_eq!(away.status, StatusCode::SEE_OTHER);
    let login = away.location.unwrap();
    assert!(login.starts_with("/console/login?next="), "{login}");
    // Someone else's session is told the invitation is for another address.
    let mut pat = signed_up(&app, "pat@fruit.example", "Pat").await;
    let other = pat.get(&link).await;
    assert!(other.html.contains("different address"), "{}", other.html);
    assert!(!other.html.contains("Accept Invitation"));
    // Mia signs up and comes back through the link.
    let mut mia = signed_up(&app, "mia@fruit.example", "Mia").await;
    let invitation = mia.get(&link).await;
    assert_eq!(invitation.status, StatusCode::OK);
    assert!(
        invitation.html.contains("Accept Invitation"),
        "{}",
        invitation.html
    );
    assert!(invitation.html.contains(" as <strong>admin</strong>"));
    let accepted = mia
        .post("/console/invitations/accept", &[("token", &token)])
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.html);
    assert_eq!(
        accepted.location.as_deref(),
        Some(format!("/console/projects/{}/settings", olive.project_id).as_str())
    );
    let project = mia.follow(accepted).await;
    assert!(
        project.html.contains("Your role: admin"),
        "{}",
        project.html
    );
    // Accepted once: the link now says so.
    let again = mia.get(&link).await;
    assert!(again.html.contains("cannot be accepted"), "{}", again.html);
    // Another person's project is not found.
    let stranger = pat
        .get(&format!("/console/projects/{}/settings", olive.project_id))
        .await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_owner_invites_a_team_changes_a_role_and_removes_a_member_whose_key_dies() {
    let app = spawn_app().await;
    let mut olive = signed_up(&app, "olive@fruit.example", "Olive").await;
    let session = Auth::Bearer(olive.cookies["steward_session"].clone());
    let (_, projects) = app.get("/v1/projects", &session).await;
    let project_id = projects["projects"][0]["project_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let team = format!("/console/projects/{project_id}/members");
    let view = olive.get(&team).await;
    for label in [
        "Team Members",
        "Invite New Member",
        "Email Address(es)",
        "Role",
        "Send Invites",
    ] {
        assert!(view.html.contains(label), "{label}");
    }
    // Several addresses at once: each its own invitation, the bad one refused with its reason.
    let sent = olive
        .post(
            &format!("{team}/invite"),
            &[
                (
                    "emails",
                    "mia@fruit.example,\nnot an address\npat@fruit.example",
                ),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.html);
    assert!(
        sent.html.contains("mia@fruit.example: sent"),
        "{}",
        sent.html
    );
    assert!(
        sent.html
            .contains("not an address: <span class=\"error\">not sent"),
        "{}",
        sent.html
    );
    for label in [
        "Resend Invitation",
        "aria-label=\"Revoke pat@fruit.example\"",
        "email waiting to be sent",
    ] {
        assert!(sent.html.contains(label), "{label}");
    }
    // Resend pat's, then revoke it.
    let first = app.invitation_token("pat@fruit.example").await;
    let resent = olive
        .post(
            &format!("/console/projects/{project_id}/invitations/resend"),
            &[("email", "pat@fruit.example")],
        )
        .await;
    assert!(resent.html.contains("was sent again"), "{}", resent.html);
    assert_ne!(app.invitation_token("pat@fruit.example").await, first);
    let revoked = olive
        .post(
            &format!("/console/projects/{project_id}/invitations/revoke"),
            &[("email", "pat@fruit.example")],
        )
        .await;
    assert!(revoked.html.contains("was revoked") && !revoked.html.contains("Revoke pat@"));
    // Mia joins through her link, makes a key; Olive makes her an admin, then removes her.
    let mut mia = signed_up(&app, "mia@fruit.example", "Mia").await;
    let token = app.invitation_token("mia@fruit.example").await;
    let joined = mia
        .post("/console/invitations/accept", &[("token", &token)])
        .await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER);
    let mia_session = Auth::Bearer(mia.cookies["steward_session"].clone());
    let key = app
        .create_key(&mia_session, &project_id, &["member"], &[])
        .await;
    // A member (who may not see the team) is not offered the view's forms, and a forced invite
    // is refused and records nothing.
    let as_member = mia.get(&team).await;
    assert_eq!(as_member.status, StatusCode::FORBIDDEN);
    assert!(!as_member.html.contains("Send Invites") && !as_member.html.contains("Remove olive"));
    let head = app.log_head();
    let forced = mia
        .post(
            &format!("{team}/invite"),
            &[("emails", "eve@fruit.example"), ("role", "member")],
        )
        .await;
    assert_eq!(forced.status, StatusCode::FORBIDDEN, "{}", forced.html);
    assert_eq!(app.log_head(), head);
    let (_, members) = app
        .get(&format!("/v1/projects/{project_id}/members"), &session)
        .await;
    let mia_id = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "mia@fruit.example")
        .unwrap()["member_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let changed = olive
        .post(&format!("{team}/{mia_id}/role"), &[("role", "admin")])
        .await;
    assert!(
        changed.html.contains("The role was changed"),
        "{}",
        changed.html
    );
    let (_, scopes) = app
        .get(
            &format!("/v1/projects/{project_id}/members/{mia_id}/scopes"),
            &session,
        )
        .await;
    assert_eq!(scopes["scopes"], json!(["admin"]));
    // Removing first shows the keys that will stop working.
    let confirm = olive.get(&format!("{team}/{mia_id}/remove")).await;
    assert!(
        confirm.html.contains("will stop working")
            && confirm
                .html
                .contains("<tr><td>test key</td><td>0</td><td>$0.00</td></tr>"),
        "{}",
        confirm.html
    );
    assert!(confirm.html.contains("Remove mia@fruit.example"));
    let listed = olive.get(&team).await;
    assert!(
        listed
            .html
            .contains("aria-label=\"Remove mia@fruit.example\""),
        "{}",
        listed.html
    );
    let removed = olive.post(&format!("{team}/{mia_id}/remove"), &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let (status, _) = app
        .get(&format!("/v1/projects/{project_id}"), &key.auth)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "her key died with the membership"
    );
}
