//! The Console's side of keys that outlive their people and their secrets, and of per-tag
//! budgets: a key's page (rotate, hand over, why not), handing keys over when removing a member,
//! and the Budgets view. Each refused form shows its error beside the field and changes nothing.

use crate::console::{signed_up, Browser};
use crate::console_views::{field_value, first_project, joined};
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;

/// Olive owns a project in the console; Mia joined it as a member and made a key in it.
struct Company {
    app: TestApp,
    olive: Browser,
    mia: Browser,
    project_id: String,
    olive_session: Auth,
    olive_id: String,
    mia_id: String,
    key: Key,
}

async fn company() -> Company {
    let app = spawn_app().await;
    let olive = signed_up(&app, "olive@fruit.example", "Olive").await;
    let (project_id, olive_session) = first_project(&app, &olive).await;
    let (_, members) = app
        .get(
            &format!("/v1/projects/{project_id}/members"),
            &olive_session,
        )
        .await;
    let olive_id = member_id(&members, "olive@fruit.example");
    let owner = Person {
        account_id: olive_id.clone(),
        project_id: project_id.clone(),
        email: "olive@fruit.example".into(),
        session: olive_session.clone(),
    };
    let mia = joined(&app, &owner, "mia@fruit.example", "Mia", "member").await;
    let mia_session = Auth::Bearer(mia.cookies["steward_session"].clone());
    let key = app
        .create_key(&mia_session, &project_id, &["member"], &["apple"])
        .await;
    let (_, members) = app
        .get(
            &format!("/v1/projects/{project_id}/members"),
            &olive_session,
        )
        .await;
    Company {
        mia_id: member_id(&members, "mia@fruit.example"),
        app,
        olive,
        mia,
        project_id,
        olive_session,
        olive_id,
        key,
    }
}

fn member_id(members: &Value, email: &str) -> String {
    (members["members"].as_array().unwrap().iter())
        .find(|member| member["email"] == email)
        .unwrap_or_else(|| panic!("{email} is not a member: {members}"))["member_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Whether the key's secret `auth` reads its project.
async fn works(app: &TestApp, project_id: &str, auth: &Auth) -> bool {
    let (status, _) = app.get(&format!("/v1/projects/{project_id}"), auth).await;
    status == StatusCode::OK
}

#[tokio::test]
async fn a_keys_page_rotates_its_secret_shown_once_with_the_overlap_chosen() {
    // Given
    let Company {
        app,
        mut olive,
        project_id,
        key,
        ..
    } = company().await;
    let list = olive
        .get(&format!("/console/projects/{project_id}/keys"))
        .await;
    let page = format!("/console/projects/{project_id}/keys/{}", key.id);
    assert!(
        list.html.contains(&format!("href=\"{page}\"")),
        "{}",
        list.html
    );
    let view = olive.get(&page).await;
    assert_eq!(view.status, StatusCode::OK);
    for words in [
        "Acts as",
        "Mia Grove (mia@fruit.example)",
        "Rotate Secret",
        "Hand Over",
    ] {
        assert!(view.html.contains(words), "{words}: {}", view.html);
    }
    // When: an overlap the form does not offer is refused beside its field.
    let head = app.log_head();
    let rotate = format!("{page}/rotate");
    let refused = olive.post(&rotate, &[("overlap", "forever")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.html.contains("id=\"overlap-error\""),
        "{}",
        refused.html
    );
    assert_eq!(app.log_head(), head, "a refused rotation records nothing");
    // When: rotated with an hour's overlap.
    let rotated = olive.post(&rotate, &[("overlap", "3600")]).await;
    // Then: the new secret is shown once; both secrets work for the hour, then only the new.
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.html);
    assert!(rotated.html.contains("The previous secret works until"));
    let secret = field_value(&rotated.html, "secret").expect("the new secret");
    let new_key = Auth::Key(secret.clone());
    assert!(works(&app, &project_id, &new_key).await);
    assert!(works(&app, &project_id, &key.auth).await);
    let again = olive.get(&page).await;
    assert!(!again.html.contains(&secret), "the secret is shown once");
    assert!(again.html.contains("Secret replaced"), "{}", again.html);
    app.advance_days(1);
    assert!(!works(&app, &project_id, &key.auth).await);
    assert!(works(&app, &project_id, &new_key).await);
    let later = olive.get(&page).await;
    assert!(
        later.html.contains("the previous one no longer works"),
        "{}",
        later.html
    );
}

#[tokio::test]
async fn a_key_is_handed_over_from_its_page_and_survives_its_creator_leaving() {
    // Given
    let Company {
        app,
        mut olive,
        mut mia,
        project_id,
        olive_session,
        olive_id,
        mia_id,
        key,
    } = company().await;
    let page = format!("/console/projects/{project_id}/keys/{}", key.id);
    let owner_form = format!("{page}/owner");
    // A member may rotate their own key but hand over none.
    let mias_view = mia.get(&page).await;
    assert!(mias_view.html.contains("Rotate Secret"));
    assert!(!mias_view.html.contains("Hand Over"), "{}", mias_view.html);
    // Olive is offered herself, not the key's current owner.
    let view = olive.get(&page).await;
    assert!(view
        .html
        .contains(&format!("<option value=\"{olive_id}\">")));
    assert!(!view.html.contains(&format!("<option value=\"{mia_id}\">")));
    // When: no member, or someone not in the project, is refused beside the field.
    let head = app.log_head();
    for (member, status) in [
        ("nobody", StatusCode::BAD_REQUEST),
        (uuid().as_str(), StatusCode::NOT_FOUND),
    ] {
        let refused = olive.post(&owner_form, &[("member_id", member)]).await;
        assert_eq!(refused.status, status, "{member}: {}", refused.html);
        assert!(
            refused.html.contains("id=\"member-error\""),
            "{}",
            refused.html
        );
    }
    let refused = mia.post(&owner_form, &[("member_id", &olive_id)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    assert_eq!(app.log_head(), head, "a refused hand-over records nothing");
    // When: Olive takes the key over.
    let handed = olive.post(&owner_form, &[("member_id", &olive_id)]).await;
    // Then: it acts as Olive, so Mia's removal leaves it working.
    assert_eq!(handed.status, StatusCode::OK, "{}", handed.html);
    assert!(
        handed
            .html
            .contains("The key now acts as Olive Grove (olive@fruit.example)."),
        "{}",
        handed.html
    );
    let (status, _) = app
        .delete(
            &format!("/v1/projects/{project_id}/members/{mia_id}"),
            &olive_session,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(works(&app, &project_id, &key.auth).await);
    let gone = mia.get(&page).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn removing_a_member_hands_their_keys_to_the_member_chosen_in_the_same_step() {
    // Given
    let Company {
        app,
        mut olive,
        project_id,
        olive_session,
        olive_id,
        mia_id,
        key,
        ..
    } = company().await;
    let remove = format!("/console/projects/{project_id}/members/{mia_id}/remove");
    let confirm = olive.get(&remove).await;
    assert!(
        confirm.html.contains("Hand the keys over to"),
        "{}",
        confirm.html
    );
    assert!(confirm.html.contains("No one: the keys stop working"));
    assert!(confirm
        .html
        .contains(&format!("<option value=\"{olive_id}\">")));
    // When: a choice that is no member, or the member leaving, is refused and changes nothing.
    let head = app.log_head();
    for (heir, status) in [
        ("somebody", StatusCode::BAD_REQUEST),
        (mia_id.as_str(), StatusCode::BAD_REQUEST),
    ] {
        let refused = olive.post(&remove, &[("reassign_keys_to", heir)]).await;
        assert_eq!(refused.status, status, "{heir}: {}", refused.html);
        assert!(
            refused.html.contains("id=\"remove-error\""),
            "{}",
            refused.html
        );
    }
    assert_eq!(app.log_head(), head, "a refused removal records nothing");
    // When
    let removed = olive
        .post(&remove, &[("reassign_keys_to", &olive_id)])
        .await;
    // Then: Mia is gone and her key, now Olive's, works on.
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.html);
    let (_, members) = app
        .get(
            &format!("/v1/projects/{project_id}/members"),
            &olive_session,
        )
        .await;
    assert!(
        !members.to_string().contains("mia@fruit.example"),
        "{members}"
    );
    assert!(works(&app, &project_id, &key.auth).await);
    let keys = olive
        .get(&format!("/console/projects/{project_id}/keys"))
        .await;
    assert!(
        keys.html.contains("Olive Grove (olive@fruit.example)"),
        "{}",
        keys.html
    );
}

#[tokio::test]
async fn the_budgets_view_sets_shows_and_removes_a_tags_budget() {
    // Given: Mia's key, tagged apple, has metered a request this month.
    let Company {
        app,
        mut olive,
        mut mia,
        project_id,
        key,
        ..
    } = company().await;
    let (status, body) = app.meter(&key, &project_id, &uuid(), 600, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let budgets = format!("/console/projects/{project_id}/budgets");
    let view = olive.get(&budgets).await;
    assert_eq!(view.status, StatusCode::OK);
    assert!(view.html.contains("<td>apple</td>"), "{}", view.html);
    assert!(view.html.contains("Set Budget"));
    // When: bad fields are refused beside them, and nothing is recorded.
    let head = app.log_head();
    for (tag, monthly, error_id) in [
        ("", "10", "tag-error"),
        ("apple", "lots", "monthly-error"),
        ("apple", "2000000000", "monthly-error"),
    ] {
        let fields = [("tag", tag), ("monthly_usd", monthly), ("hard", "on")];
        let refused = olive.post(&budgets, &fields).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{fields:?}");
        assert!(
            refused.html.contains(&format!("id=\"{error_id}\"")),
            "{fields:?}"
        );
        assert!(
            refused.html.contains(&format!("value=\"{monthly}\"")),
            "kept"
        );
    }
    assert_eq!(app.log_head(), head, "a refused budget records nothing");
    // When: a hard budget below what apple already spent.
    let set = olive
        .post(
            &budgets,
            &[("tag", "apple"), ("monthly_usd", "0.01"), ("hard", "on")],
        )
        .await;
    // Then: the view shows it reached, and apple's next request is refused.
    assert_eq!(set.status, StatusCode::OK, "{}", set.html);
    assert!(set.html.contains("The budget of apple is set."));
    assert!(set.html.contains("$0.01"), "{}", set.html);
    assert!(
        set.html.contains("reached: its requests are refused"),
        "{}",
        set.html
    );
    let (status, body) = app.meter(&key, &project_id, &uuid(), 60, &[]).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYMENT_REQUIRED,
        "ASR_PAYMENT_REQUIRED",
    );
    // A member sees no Budgets.
    let mias = mia.get(&budgets).await;
    assert_eq!(mias.status, StatusCode::FORBIDDEN);
    assert!(!mias.html.contains(&format!("href=\"{budgets}\"")));
    let refused = mia
        .post(&format!("{budgets}/remove"), &[("tag", "apple")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // When: Olive removes it.
    let removed = olive
        .post(&format!("{budgets}/remove"), &[("tag", "apple")])
        .await;
    // Then: apple meters again.
    assert_eq!(removed.status, StatusCode::OK);
    assert!(removed.html.contains("The budget of apple was removed."));
    assert!(!removed.html.contains("Remove the budget of apple"));
    let (status, body) = app.meter(&key, &project_id, &uuid(), 60, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A page after a tag that is not one is refused.
    let bad = olive.get(&format!("{budgets}?after=%20apple")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_team_and_the_keys_are_shown_as_of_an_instant_before_a_removal() {
    // Given: on the second day Mia is removed, and her key with her.
    let Company {
        app,
        mut olive,
        project_id,
        olive_session,
        mia_id,
        key,
        ..
    } = company().await;
    app.advance_days(1);
    let (status, _) = app
        .delete(
            &format!("/v1/projects/{project_id}/members/{mia_id}"),
            &olive_session,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let team = format!("/console/projects/{project_id}/members");
    let keys = format!("/console/projects/{project_id}/keys");
    let now = olive.get(&team).await;
    assert!(!now.html.contains("mia@fruit.example"), "{}", now.html);
    // When: the first day, as of its last hour.
    let then = olive
        .get(&format!("{team}?as_of=2026-11-01T23:00:00Z"))
        .await;
    let keys_then = olive
        .get(&format!("{keys}?as_of=2026-11-01T23:00:00Z"))
        .await;
    // Then: Mia was there, with her key; nothing of the past is offered for change.
    assert_eq!(then.status, StatusCode::OK);
    assert!(
        then.html.contains("as of 2026-11-01 23:00 UTC"),
        "{}",
        then.html
    );
    assert!(then.html.contains("mia@fruit.example"));
    assert!(!then.html.contains("/remove\""), "no removal in the past");
    assert!(!then.html.contains("Invite New Member"));
    assert!(keys_then.html.contains("test key"), "{}", keys_then.html);
    assert!(keys_then.html.contains("(ended since)"));
    assert!(!keys_then.html.contains(&format!("/keys/{}\"", key.id)));
    assert!(!keys_then.html.contains("Create API Key"));
    // An instant that is not one is refused beside the field.
    for view in [&team, &keys] {
        let refused = olive.get(&format!("{view}?as_of=yesterday")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused.html.contains("id=\"as-of-error\""),
            "{}",
            refused.html
        );
        assert!(refused.html.contains("value=\"yesterday\""));
    }
}

#[tokio::test]
async fn a_removed_member_can_still_be_chosen_as_the_audit_logs_actor() {
    // Given: Mia made a key, then was removed.
    let Company {
        app,
        mut olive,
        project_id,
        olive_session,
        mia_id,
        ..
    } = company().await;
    let (status, _) = app
        .delete(
            &format!("/v1/projects/{project_id}/members/{mia_id}"),
            &olive_session,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let audit = format!("/console/projects/{project_id}/audit");
    // When
    let view = olive.get(&audit).await;
    let hers = olive.get(&format!("{audit}?actor={mia_id}")).await;
    // Then: she is offered, and her actions are found.
    assert!(
        view.html.contains(&format!(
            "<option value=\"{mia_id}\">mia@fruit.example</option>"
        )),
        "{}",
        view.html
    );
    assert_eq!(hers.status, StatusCode::OK);
    assert!(
        hers.html.contains("Mia created the API key"),
        "{}",
        hers.html
    );
    assert!(!hers.html.contains("Olive removed"), "only Mia's actions");
}
