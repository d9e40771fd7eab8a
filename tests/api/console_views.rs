//! The Console's API Keys, Billing, Usage and Audit Log views over HTTP, as a browser without
//! JavaScript uses them. Each view answers what the JSON API answers, and each refused form
//! changes nothing.

use crate::console::{signed_up, Browser};
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The project a console person's signup made.
pub async fn first_project(app: &TestApp, browser: &Browser) -> (String, Auth) {
    let session = Auth::Bearer(browser.cookies["steward_session"].clone());
    let (_, projects) = app.get("/v1/projects", &session).await;
    let project_id = projects["projects"][0]["project_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (project_id, session)
}

/// A person signed up in the console who then joined `owner`'s project with `role`.
pub async fn joined(
    app: &TestApp,
    owner: &Person,
    email: &str,
    first: &str,
    role: &str,
) -> Browser {
    let browser = signed_up(app, email, first).await;
    let (project_id, session) = first_project(app, &browser).await;
    let (_, members) = app
        .get(&format!("/v1/projects/{project_id}/members"), &session)
        .await;
    let person = Person {
        account_id: members["members"][0]["member_id"].as_str().unwrap().into(),
        project_id,
        email: email.into(),
        session,
    };
    app.invite_and_accept(owner, &person, role).await;
    browser
}

/// The value of the input `id` on a page.
pub fn field_value(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    let value = rest.find("value=\"")? + "value=\"".len();
    let end = rest[value..].find('"')?;
    Some(rest[value..value + end].to_owned())
}

#[tokio::test]
async fn an_api_key_is_made_with_its_secret_shown_once_and_deleted_by_its_comment() {
    // Given
    let app = spawn_app().await;
    let mut olive = signed_up(&app, "olive@fruit.example", "Olive").await;
    let (project_id, session) = first_project(&app, &olive).await;
    let keys = format!("/console/projects/{project_id}/keys");
    let view = olive.get(&keys).await;
    for label in [
        "API Keys",
        "Create API Key",
        "Comment",
        "Role",
        "Tags",
        "Expires",
    ] {
        assert!(view.html.contains(label), "{label}");
    }
    // When: bad fields, each shown beside its field, and nothing recorded.
    let head = app.log_head();
    for (fields, error_id, status) in [
        (
            [
                ("comment", "ci"),
                ("role", "member"),
                ("tags", ""),
                ("expires", "someday"),
            ],
            "expires-error",
            StatusCode::BAD_REQUEST,
        ),
        (
            [
                ("comment", "ci"),
                ("role", "member"),
                ("tags", ""),
                ("expires", "2026-10-01"),
            ],
            "expires-error",
            StatusCode::BAD_REQUEST,
        ),
        (
            [
                ("comment", "ci"),
                ("role", "root"),
                ("tags", ""),
                ("expires", ""),
            ],
            "role-error",
            StatusCode::BAD_REQUEST,
        ),
        (
            [
                ("comment", "a\u{7}b"),
                ("role", "member"),
                ("tags", ""),
                ("expires", ""),
            ],
            "comment-error",
            StatusCode::BAD_REQUEST,
        ),
        (
            [
                ("comment", "ci"),
                ("role", "member"),
                ("tags", &"t".repeat(129)),
                ("expires", ""),
            ],
            "tags-error",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let refused = olive.post(&keys, &fields).await;
        assert_eq!(refused.status, status, "{fields:?}: {}", refused.html);
        assert!(
            refused.html.contains(&format!("id=\"{error_id}\"")),
            "{fields:?}: {}",
            refused.html
        );
        assert!(!refused.html.contains("shown this once"));
    }
    assert_eq!(app.log_head(), head, "refused forms record nothing");
    // When: a key with tags and an expiry; its comment is user input, escaped.
    let created = olive
        .post(
            &keys,
            &[
                ("comment", "<b>ci</b> runner"),
                ("role", "admin"),
                ("tags", "customer-a, batch"),
                ("expires", "2027-01-31"),
            ],
        )
        .await;
    // Then: the secret is on this page, once, and works.
    assert_eq!(created.status, StatusCode::OK, "{}", created.html);
    assert!(created.html.contains("shown this once"), "{}", created.html);
    assert!(
        created.html.contains("&#60;b&#62;ci&#60;/b&#62; runner"),
        "{}",
        created.html
    );
    assert!(!created.html.contains("<b>ci</b>"));
    let secret = field_value(&created.html, "secret").expect("the secret's field");
    let key = Auth::Key(secret.clone());
    let (status, _) = app.get(&format!("/v1/projects/{project_id}"), &key).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = app
        .get(&format!("/v1/projects/{project_id}/keys"), &session)
        .await;
    let api_key = &listed["api_keys"][0]["api_key"];
    assert_eq!(api_key["scopes"], json!(["admin"]));
    assert_eq!(api_key["tags"], json!(["customer-a", "batch"]));
    assert!(api_key["expiration_date"]
        .as_str()
        .unwrap()
        .starts_with("2027-01-31T00:00:00"));
    let again = olive.get(&keys).await;
    assert!(!again.html.contains(&secret), "never shown again");
    for text in [
        "customer-a, batch",
        "2027-01-31 00:00 UTC",
        "active",
        "Olive Grove",
    ] {
        assert!(again.html.contains(text), "{text}: {}", again.html);
    }
    assert!(again
        .html
        .contains("aria-label=\"Delete &#60;b&#62;ci&#60;/b&#62; runner\""));
    // When: deleting it.
    let key_id = api_key["api_key_id"].as_str().unwrap();
    let deleted = olive.post(&format!("{keys}/{key_id}/delete"), &[]).await;
    // Then
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.html);
    assert!(deleted.html.contains("was deleted"));
    let (status, _) = app.get(&format!("/v1/projects/{project_id}"), &key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_member_sees_only_their_own_keys_and_is_offered_no_role_above_their_own() {
    // Given: Olive's key, and Mia a member of her project.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mut mia = joined(&app, &olive, "mia@fruit.example", "Mia", "member").await;
    let olive_key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let keys = format!("/console/projects/{}/keys", olive.project_id);
    // When
    let view = mia.get(&keys).await;
    // Then: no other person's keys, only the member role, and no Billing or Audit Log links.
    assert_eq!(view.status, StatusCode::OK, "{}", view.html);
    assert!(view.html.contains("No API keys yet"), "{}", view.html);
    assert!(view.html.contains("<option value=\"member\""));
    assert!(!view.html.contains("<option value=\"admin\""));
    for hidden in ["/billing\"", "/audit\"", "/members\""] {
        assert!(!view.html.contains(hidden), "{hidden}");
    }
    // A forced owner key is refused beside the role, as the API refuses it, and records nothing.
    let head = app.log_head();
    let forced = mia
        .post(
            &keys,
            &[
                ("comment", "mine"),
                ("role", "owner"),
                ("tags", ""),
                ("expires", ""),
            ],
        )
        .await;
    assert_eq!(forced.status, StatusCode::FORBIDDEN, "{}", forced.html);
    assert!(forced.html.contains("id=\"role-error\""), "{}", forced.html);
    // So is deleting Olive's key.
    let forced = mia
        .post(&format!("{keys}/{}/delete", olive_key.id), &[])
        .await;
    assert_eq!(forced.status, StatusCode::FORBIDDEN, "{}", forced.html);
    assert_eq!(app.log_head(), head);
    let (status, _) = app
        .get(
            &format!("/v1/projects/{}", olive.project_id),
            &olive_key.auth,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let billing = mia
        .get(&format!("/console/projects/{}/billing", olive.project_id))
        .await;
    assert_eq!(billing.status, StatusCode::FORBIDDEN);
    let audit = mia
        .get(&format!("/console/projects/{}/audit", olive.project_id))
        .await;
    assert_eq!(audit.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn billing_lists_balances_in_spending_order_and_moves_credit_keeping_its_expiry() {
    // Given: Olive's promotional credit from signup, a contract and a card grant.
    let app = spawn_app().await;
    let mut olive = signed_up(&app, "olive@fruit.example", "Olive").await;
    let (project_id, session) = first_project(&app, &olive).await;
    let credits = format!("/v1/operator/projects/{project_id}/credits");
    for grant in [
        json!({"amount": "50", "units": "usd", "source": "contract", "expires_at": "2027-03-31",
               "reference": "PO-9"}),
        json!({"amount": "7.5", "units": "usd", "source": "card"}),
    ] {
        let (status, body) = app.post(&credits, &Auth::operator(), grant).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let created = olive
        .post("/console/projects/new", &[("name", "Second")])
        .await;
    let second = created
        .location
        .unwrap()
        .trim_start_matches("/console/projects/")
        .trim_end_matches("/settings")
        .to_owned();
    let billing = format!("/console/projects/{project_id}/billing");
    // When
    let view = olive.get(&billing).await;
    // Then: each balance with its order, amount, source and expiry; the purchases.
    assert_eq!(view.status, StatusCode::OK, "{}", view.html);
    let (_, balances) = app
        .get(&format!("/v1/projects/{project_id}/balances"), &session)
        .await;
    let sources: Vec<&str> = (balances["balances"].as_array().unwrap().iter())
        .map(|balance| balance["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["contract", "promotional", "card"]);
    for row in [
        "<td>1</td><td>$50.00</td><td>contract</td><td>2027-03-31 00:00 UTC</td>",
        "<td>2</td><td>$200.00</td><td>promotional</td><td>2027-11-01 09:00 UTC</td>",
        "<td>3</td><td>$7.50</td><td>card</td><td>never</td>",
    ] {
        assert!(view.html.contains(row), "{row}: {}", view.html);
    }
    assert!(view.html.contains("$257.50"));
    assert!(view.html.contains("PO-9"));
    assert!(view.html.contains("Transfer Credit"));
    // Bad amounts are refused beside the field and move nothing.
    let head = app.log_head();
    for (amount, status) in [
        ("abc", StatusCode::BAD_REQUEST),
        ("0", StatusCode::BAD_REQUEST),
    ] {
        let refused = olive
            .post(
                &format!("{billing}/transfer"),
                &[("to_project_id", &second), ("amount", amount)],
            )
            .await;
        assert_eq!(refused.status, status, "{amount}: {}", refused.html);
        assert!(
            refused.html.contains("id=\"amount-error\""),
            "{}",
            refused.html
        );
    }
    // More than the contract and card credit: the rest is promotional, support's to move.
    let refused = olive
        .post(
            &format!("{billing}/transfer"),
            &[("to_project_id", &second), ("amount", "60")],
        )
        .await;
    assert!(
        refused.html.contains("id=\"amount-error\""),
        "{}",
        refused.html
    );
    assert!(refused.html.contains("support"), "{}", refused.html);
    assert_eq!(app.log_head(), head);
    // When: moving $55, the contract credit first.
    let moved = olive
        .post(
            &format!("{billing}/transfer"),
            &[("to_project_id", &second), ("amount", "$55")],
        )
        .await;
    // Then
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.html);
    assert!(
        moved.html.contains("$55.00 moved to Second"),
        "{}",
        moved.html
    );
    assert!(
        moved
            .html
            .contains("<td>1</td><td>$200.00</td><td>promotional</td>"),
        "{}",
        moved.html
    );
    assert!(moved.html.contains("<td>2</td><td>$2.50</td><td>card</td>"));
    let there = olive
        .get(&format!("/console/projects/{second}/billing"))
        .await;
    assert!(
        there
            .html
            .contains("<td>1</td><td>$50.00</td><td>contract</td><td>2027-03-31 00:00 UTC</td>"),
        "the contract credit keeps its expiry: {}",
        there.html
    );
    assert!(there.html.contains("transferred in"));
    // Both logs show both sides of the transfer, each in its own words.
    let here = olive
        .get(&format!("/console/projects/{project_id}/audit"))
        .await;
    assert!(
        here.html
            .contains("Olive moved $55.00 from this project to the project Second"),
        "{}",
        here.html
    );
    let there = olive
        .get(&format!("/console/projects/{second}/audit"))
        .await;
    assert!(
        there
            .html
            .contains("This project received $55.00 from the project Olive"),
        "{}",
        there.html
    );
}

/// Olive's project with requests in November 2026: tagged, untagged and with two tags.
async fn metered(app: &TestApp) -> (Browser, String, Auth) {
    let olive = signed_up(app, "olive@fruit.example", "Olive").await;
    let (project_id, session) = first_project(app, &olive).await;
    let key = app
        .create_key(&session, &project_id, &["member"], &[])
        .await;
    for (seconds, tags) in [
        (60, vec!["apple"]),
        (120, vec!["apple", "pear"]),
        (30, vec![]),
    ] {
        let (status, body) = app.meter(&key, &project_id, &uuid(), seconds, &tags).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    app.advance_days(2);
    let (status, body) = app.meter(&key, &project_id, &uuid(), 600, &["pear"]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (olive, project_id, session)
}

#[tokio::test]
async fn usage_shows_a_month_per_tag_with_a_chart_and_downloads_the_apis_csv() {
    // Given
    let app = spawn_app().await;
    let (mut olive, project_id, session) = metered(&app).await;
    let usage = format!("/console/projects/{project_id}/usage");
    // When
    let view = olive.get(&format!("{usage}?month=2026-11")).await;
    // Then: per tag and untagged, once each in the total; a bar per day with requests.
    assert_eq!(view.status, StatusCode::OK, "{}", view.html);
    for row in [
        "<tr><td>apple</td><td>2</td><td>3.00</td>",
        "<tr><td>pear</td><td>2</td><td>12.00</td>",
        "<tr><td>untagged</td><td>1</td><td>0.50</td>",
        "<tr><th>Total</th><th>4</th><th>13.50</th>",
    ] {
        assert!(view.html.contains(row), "{row}: {}", view.html);
    }
    assert_eq!(view.html.matches("<rect ").count(), 2, "{}", view.html);
    assert!(view.html.contains("<title>2026-11-03: 1 request, $"));
    assert!(view.html.contains("<title>2026-11-01: 3 requests, $"));
    // The CSV is the API's billing breakdown by tag for the month.
    let csv = olive.get(&format!("{usage}/csv?month=2026-11")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(csv.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("usage-2026-11.csv"));
    let (_, api) = app
        .get(
            &format!(
                "/v1/projects/{project_id}/billing/breakdown?start=2026-11-01&end=2026-11-30&grouping=tags&format=csv"
            ),
            &session,
        )
        .await;
    assert_eq!(Value::String(csv.html.clone()), api);
    assert!(csv.html.contains(",apple,"), "{}", csv.html);
    // Signed out, the view sends to sign in and back to the same month.
    let away = Browser::new(&app)
        .get(&format!("{usage}?month=2026-11"))
        .await;
    assert_eq!(away.status, StatusCode::SEE_OTHER);
    assert_eq!(
        away.location.unwrap(),
        format!(
            "/console/login?next=%2Fconsole%2Fprojects%2F{project_id}%2Fusage%3Fmonth%3D2026-11"
        )
    );
    // Another month is empty; a bad month is refused beside the field.
    let october = olive.get(&format!("{usage}?month=2026-10")).await;
    assert!(october.html.contains("<tr><th>Total</th><th>0</th>"));
    assert_eq!(october.html.matches("<rect ").count(), 0);
    for bad in ["2026-13", "november", "1999-01"] {
        let refused = olive.get(&format!("{usage}?month={bad}")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(refused.html.contains("id=\"month-error\""), "{bad}");
    }
}

#[tokio::test]
async fn the_audit_log_reads_as_sentences_filtered_by_type_and_actor_and_paged() {
    // Given: Olive invites Mia and Pat, and makes keys.
    let app = spawn_app().await;
    let mut olive = signed_up(&app, "olive@fruit.example", "Olive").await;
    let (project_id, session) = first_project(&app, &olive).await;
    let team = format!("/console/projects/{project_id}/members");
    let sent = olive
        .post(
            &format!("{team}/invite"),
            &[
                ("emails", "mia@fruit.example, pat@fruit.example"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    for _ in 0..55 {
        app.create_key(&session, &project_id, &["member"], &["t"])
            .await;
    }
    let audit = format!("/console/projects/{project_id}/audit");
    // When
    let newest = olive.get(&audit).await;
    // Then: newest first, as sentences, fifty to a page.
    assert_eq!(newest.status, StatusCode::OK, "{}", newest.html);
    assert_eq!(newest.html.matches("<tr><td class=\"nowrap\">").count(), 50);
    assert!(newest
        .html
        .contains("Olive created the API key \u{201c}test key\u{201d} (member)"));
    assert!(!newest.html.contains("invited mia@fruit.example"));
    let older = newest
        .html
        .split("href=\"")
        .find(|part| part.contains("/audit?") && part.contains("cursor="))
        .map(|part| part[..part.find('"').unwrap()].replace("&amp;", "&"))
        .expect("an Older link");
    let page_two = olive.get(&older).await;
    assert!(
        page_two
            .html
            .contains("Olive invited mia@fruit.example as member"),
        "{}",
        page_two.html
    );
    assert!(page_two.html.contains("Olive created the project"));
    assert!(page_two.html.contains(">Newest</a>"));
    // Filtered by type: the same query as the API's.
    let invited = olive.get(&format!("{audit}?type=member_invited")).await;
    assert_eq!(invited.html.matches("<tr><td class=\"nowrap\">").count(), 2);
    let (_, api) = app
        .get(
            &format!("/v1/projects/{project_id}/audit?type=member_invited"),
            &session,
        )
        .await;
    assert_eq!(api["events"].as_array().unwrap().len(), 2);
    // By actor: Support granted nothing here yet.
    let by_support = olive.get(&format!("{audit}?actor=operator")).await;
    assert!(
        by_support.html.contains("No events."),
        "{}",
        by_support.html
    );
    // Bad filters are refused beside the fields.
    for bad in ["type=nothing_happened", "start=yesterday", "cursor=x"] {
        let refused = olive.get(&format!("{audit}?{bad}")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(refused.html.contains("id=\"filter-error\""), "{bad}");
    }
}

#[tokio::test]
async fn an_admin_is_offered_no_owner_role_and_no_way_to_change_or_remove_an_owner() {
    // Given: Mia an admin of Olive's project.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let mut mia = joined(&app, &olive, "mia@fruit.example", "Mia", "admin").await;
    let team = format!("/console/projects/{}/members", olive.project_id);
    // When
    let view = mia.get(&team).await;
    // Then: invitations up to admin; Olive's row has no role control and no trash can; Mia's
    // own has member and admin.
    assert_eq!(view.status, StatusCode::OK, "{}", view.html);
    let invite_form = &view.html[view.html.find("Invite New Member").unwrap()..];
    assert!(invite_form.contains("<option value=\"admin\""));
    assert!(!invite_form.contains("<option value=\"owner\""));
    assert!(!view.html.contains("Role of olive@fruit.example"));
    assert!(!view.html.contains("Remove olive@fruit.example"));
    assert!(view.html.contains("Role of mia@fruit.example"));
    // A forced owner invitation is refused as the API refuses it, and records nothing.
    let head = app.log_head();
    let forced = mia
        .post(
            &format!("{team}/invite"),
            &[("emails", "pat@fruit.example"), ("role", "owner")],
        )
        .await;
    assert!(
        forced
            .html
            .contains("pat@fruit.example: <span class=\"error\">not sent, Your role"),
        "{}",
        forced.html
    );
    assert_eq!(app.log_head(), head);
}
