//! Transfers: whole balances, amounts, or part of a balance, keeping each portion's expiry,
//! atomic, refused without billing:write on both sides, never by a key; promotional credit
//! moves only through support (the operator).

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn balances(
    app: &TestApp,
    person: &Person,
    project_id: &str,
) -> Vec<(String, String, Value)> {
    let (status, body) = app
        .get(
            &format!("/v1/projects/{project_id}/balances"),
            &person.session,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["source"].as_str().unwrap().to_owned(),
                b["amount"].to_string(),
                b["expiration"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn promotional_credit_moved_to_another_project_keeps_its_signup_expiry() {
    // Given: Olive signed up on 1 November 2026; days later she opens a second project.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    app.advance_days(5);
    let (_, labs) = app
        .post(
            "/v1/projects",
            &olive.session,
            json!({"name": "Fruit Labs"}),
        )
        .await;
    let labs = labs["project_id"].as_str().unwrap().to_owned();
    let transfer = json!({"from_project_id": olive.project_id, "to_project_id": labs,
                          "amount": "25.5", "units": "usd"});
    // When: Olive asks herself; then support (the operator) does it.
    let head = app.log_head();
    let (status, body) = app
        .post("/v1/transfers", &olive.session, transfer.clone())
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Only support can move promotional credit"),
        "{body}"
    );
    assert_eq!(app.log_head(), head);
    let (status, body) = app.post("/v1/transfers", &Auth::operator(), transfer).await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["amount"].to_string(), "25.5");
    assert_eq!(body["portions"][0]["expiration"], "2027-11-01T09:00:00Z");
    assert_eq!(
        balances(&app, &olive, &labs).await,
        [(
            "promotional".to_owned(),
            "25.5".to_owned(),
            json!("2027-11-01T09:00:00Z")
        )]
    );
    assert_eq!(
        balances(&app, &olive, &olive.project_id).await,
        [(
            "promotional".to_owned(),
            "174.5".to_owned(),
            json!("2027-11-01T09:00:00Z")
        )]
    );
    // Both projects' audit logs show it.
    for project in [&olive.project_id, &labs] {
        let (_, audit) = app
            .get(
                &format!("/v1/projects/{project}/audit?limit=2"),
                &olive.session,
            )
            .await;
        let kinds: Vec<&str> = audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["credits_transferred_in", "credits_transferred_out"],
            "{project}"
        );
    }
}

#[tokio::test]
async fn the_operator_moves_a_whole_balance_and_portions_leave_in_spending_order() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let otto = app.signup("otto@elsewhere.example").await;
    let (_, card) = app
        .post(
            &format!("/v1/operator/projects/{}/credits", olive.project_id),
            &Auth::operator(),
            json!({"amount": 10, "units": "usd", "source": "card"}),
        )
        .await;
    // When: the whole card balance moves to a project Olive is not in.
    let (status, body) = app
        .post(
            "/v1/transfers",
            &Auth::operator(),
            json!({"from_project_id": olive.project_id, "to_project_id": otto.project_id,
                   "balance_id": card["balance_id"], "units": "usd"}),
        )
        .await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    let received = balances(&app, &otto, &otto.project_id).await;
    assert!(
        received.contains(&("card".to_owned(), "10".to_owned(), Value::Null)),
        "{received:?}"
    );
    // When: an amount larger than the promotional balance takes it all first, then the card.
    app.post(
        &format!("/v1/operator/projects/{}/credits", olive.project_id),
        &Auth::operator(),
        json!({"amount": 10, "units": "usd", "source": "card"}),
    )
    .await;
    let (status, body) = app
        .post(
            "/v1/transfers",
            &Auth::operator(),
            json!({"from_project_id": olive.project_id, "to_project_id": otto.project_id,
                   "amount": 205, "units": "usd"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sources: Vec<(&str, String)> = body["portions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["source"].as_str().unwrap(), p["amount"].to_string()))
        .collect();
    assert_eq!(
        sources,
        [("promotional", "200".to_owned()), ("card", "5".to_owned())]
    );
}

#[tokio::test]
async fn refused_transfers_move_nothing() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let adam = app.signup("adam@fruit.example").await;
    app.invite_and_accept(&olive, &adam, "admin").await;
    let (_, labs) = app
        .post(
            "/v1/projects",
            &olive.session,
            json!({"name": "Fruit Labs"}),
        )
        .await;
    let labs = labs["project_id"].as_str().unwrap().to_owned();
    let key = app
        .create_key(&olive.session, &olive.project_id, &["owner"], &[])
        .await;
    let transfer = |amount: Value| {
        json!({"from_project_id": olive.project_id, "to_project_id": labs,
               "amount": amount, "units": "usd"})
    };
    let head = app.log_head();
    // When / Then
    for (auth, body, status, category) in [
        (
            &olive.session,
            transfer(json!(200.000000001)),
            StatusCode::PAYMENT_REQUIRED,
            "ASR_PAYMENT_REQUIRED",
        ),
        (
            &olive.session,
            transfer(json!(0)),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &olive.session,
            transfer(json!(-1)),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            &olive.session,
            json!({"from_project_id": olive.project_id, "to_project_id": olive.project_id, "amount": 1, "units": "usd"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &olive.session,
            json!({"from_project_id": olive.project_id, "to_project_id": labs, "units": "usd"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &olive.session,
            json!({"from_project_id": olive.project_id, "to_project_id": labs, "amount": 1, "units": "eur"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &adam.session,
            transfer(json!(1)),
            StatusCode::NOT_FOUND,
            "PROJECT_NOT_FOUND",
        ),
        (
            &key.auth,
            transfer(json!(1)),
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
        ),
    ] {
        let (got, answer) = app.post("/v1/transfers", auth, body.clone()).await;
        assert_error(got, &answer, status, category);
        assert_eq!(app.log_head(), head, "{body}");
    }
    assert_eq!(
        balances(&app, &olive, &olive.project_id).await,
        [(
            "promotional".to_owned(),
            "200".to_owned(),
            json!("2027-11-01T09:00:00Z")
        )]
    );
}

#[tokio::test]
async fn promotional_credit_cannot_be_farmed_by_joining_new_accounts_projects() {
    // Given: Bea signs up (with $200 of promotional credit) and makes Ada an owner.
    let app = spawn_app().await;
    let ada = app.signup("ada@fruit.example").await;
    let bea = app.signup("bea@fruit.example").await;
    app.invite_and_accept(&bea, &ada, "owner").await;
    let head = app.log_head();
    // When: Ada moves Bea's credit to her own project, as an amount or as the balance.
    let (_, bea_balances) = app
        .get(
            &format!("/v1/projects/{}/balances", bea.project_id),
            &ada.session,
        )
        .await;
    let promotional = bea_balances["balances"][0]["balance_id"].clone();
    for body in [
        json!({"from_project_id": bea.project_id, "to_project_id": ada.project_id,
               "amount": "200", "units": "usd"}),
        json!({"from_project_id": bea.project_id, "to_project_id": ada.project_id,
               "balance_id": promotional, "units": "usd"}),
        json!({"from_project_id": bea.project_id, "to_project_id": ada.project_id,
               "balance_id": promotional, "amount": "1", "units": "usd"}),
    ] {
        let (status, answer) = app.post("/v1/transfers", &ada.session, body.clone()).await;
        // Then: refused, and nothing moved.
        assert_error(
            status,
            &answer,
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
        );
        assert_eq!(app.log_head(), head, "{body}");
    }
    assert_eq!(balances(&app, &ada, &bea.project_id).await[0].1, "200");
    assert_eq!(balances(&app, &ada, &ada.project_id).await[0].1, "200");
}

#[tokio::test]
async fn part_of_a_chosen_balance_moves_with_amount_and_balance_id() {
    // Given: card credit from the operator beside Olive's promotional credit.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let (status, grant) = app
        .post(
            &format!("/v1/operator/projects/{}/credits", olive.project_id),
            &Auth::operator(),
            json!({"amount": "10", "units": "usd", "source": "card"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    let (_, labs) = app
        .post(
            "/v1/projects",
            &olive.session,
            json!({"name": "Fruit Labs"}),
        )
        .await;
    let labs = labs["project_id"].as_str().unwrap().to_owned();
    let part = |amount: &str| {
        json!({"from_project_id": olive.project_id, "to_project_id": labs,
               "balance_id": grant["balance_id"], "amount": amount, "units": "usd"})
    };
    // When
    let (status, body) = app.post("/v1/transfers", &olive.session, part("4")).await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["amount"].to_string(), "4");
    assert_eq!(body["portions"][0]["from_balance_id"], grant["balance_id"]);
    let head = app.log_head();
    let (status, body) = app
        .post("/v1/transfers", &olive.session, part("6.01"))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::PAYMENT_REQUIRED,
        "ASR_PAYMENT_REQUIRED",
    );
    assert_eq!(app.log_head(), head);
    assert_eq!(
        balances(&app, &olive, &labs).await,
        [("card".to_owned(), "4".to_owned(), Value::Null)]
    );
}

#[tokio::test]
async fn a_project_holds_at_most_its_balances_and_one_more_is_refused_with_nothing_recorded() {
    // Given: the promotional balance and card grants up to the limit.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let path = format!("/v1/operator/projects/{}/credits", olive.project_id);
    let grant = json!({"amount": "0.01", "units": "usd", "source": "card"});
    for _ in 1..steward::limits::BALANCES_PER_PROJECT_MAX {
        let (status, body) = app.post(&path, &Auth::operator(), grant.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let head = app.log_head();
    // When
    let (status, body) = app.post(&path, &Auth::operator(), grant).await;
    // Then
    assert_error(status, &body, StatusCode::CONFLICT, "CONFLICT");
    assert!(
        body["message"].as_str().unwrap().contains("most balances"),
        "{body}"
    );
    assert_eq!(app.log_head(), head);
}
