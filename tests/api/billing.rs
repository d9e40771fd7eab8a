//! Credit: operator grants, balances and purchases, metering that pays from the soonest-expiring
//! credit, 402 when the project cannot pay, idempotent retries.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_operator_grants_exact_decimal_credit_shown_as_balances_and_orders() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let credits = format!("/v1/operator/projects/{}/credits", olive.project_id);
    // When
    let (status, contract) = app
        .post(
            &credits,
            &Auth::operator(),
            json!({"amount": "1000.000000001", "units": "usd", "source": "contract",
                   "expires_at": "2027-06-30", "reference": "PO-117"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{contract}");
    let (status, card) = app
        .post(
            &credits,
            &Auth::operator(),
            json!({"amount": 0.1, "units": "usd", "source": "card"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{card}");
    // Then: soonest-expiring first, card last; amounts exact.
    let (_, balances) = app
        .get(
            &format!("/v1/projects/{}/balances", olive.project_id),
            &olive.session,
        )
        .await;
    let amounts: Vec<String> = balances["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["amount"].to_string())
        .collect();
    assert_eq!(amounts, ["1000.000000001", "200", "0.1"]);
    // The purchase's order id (a UUID, as typed clients read it), with the reference beside it.
    let first = &balances["balances"][0];
    assert_eq!(first["reference"], "PO-117");
    assert_eq!(first["purchase_order_id"], first["balance_id"]);
    let (_, one) = app
        .get(
            &format!(
                "/v1/projects/{}/balances/{}",
                olive.project_id,
                card["balance_id"].as_str().unwrap()
            ),
            &olive.session,
        )
        .await;
    assert_eq!(one["amount"].to_string(), "0.1");
    let (_, purchases) = app
        .get(
            &format!("/v1/projects/{}/purchases", olive.project_id),
            &olive.session,
        )
        .await;
    let types: Vec<&str> = purchases["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["promotional", "contract", "card"]);
}

#[tokio::test]
async fn bad_grants_are_refused_and_change_nothing() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let credits = format!("/v1/operator/projects/{}/credits", olive.project_id);
    let head = app.log_head();
    // When / Then
    for (auth, body, status, category) in [
        (
            Auth::operator(),
            json!({"amount": -5, "units": "usd", "source": "card"}),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            Auth::operator(),
            json!({"amount": "1e3", "units": "usd", "source": "card"}),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            Auth::operator(),
            json!({"amount": 0, "units": "usd", "source": "card"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            Auth::operator(),
            json!({"amount": 99999999999u64, "units": "usd", "source": "card"}),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            Auth::operator(),
            json!({"amount": 5_000_000_000u64, "units": "usd", "source": "card"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            Auth::operator(),
            json!({"amount": 5, "units": "eur", "source": "card"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            Auth::operator(),
            json!({"amount": 5, "units": "usd", "source": "gift"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            Auth::operator(),
            json!({"amount": 5, "units": "usd", "source": "contract"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            Auth::operator(),
            json!({"amount": 5, "units": "usd", "source": "contract", "expires_at": "2020-01-01"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            olive.session.clone(),
            json!({"amount": 5, "units": "usd", "source": "card"}),
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
        ),
        (
            Auth::Bearer("operator-token-wrong-0123456789abcdef0123".into()),
            json!({"amount": 5, "units": "usd", "source": "card"}),
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTH",
        ),
    ] {
        let (got, answer) = app.post(&credits, &auth, body.clone()).await;
        assert_error(got, &answer, status, category);
        assert_eq!(app.log_head(), head, "{body}");
    }
}

#[tokio::test]
async fn metering_pays_from_credit_refuses_with_402_and_retries_answer_the_first_result() {
    // Given: $1 of card credit only.
    let app = spawn_app_with(|settings| {
        settings.promotional_credit_usd = steward_events::Nanodollars::ZERO
    })
    .await;
    let olive = app.signup("olive@fruit.example").await;
    app.post(
        &format!("/v1/operator/projects/{}/credits", olive.project_id),
        &Auth::operator(),
        json!({"amount": 1, "units": "usd", "source": "card"}),
    )
    .await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &["apple"])
        .await;
    let request_id = uuid();
    // When: 60 seconds of Nova at $0.0043 a minute.
    let (status, first) = app
        .meter(&key, &olive.project_id, &request_id, 60, &["batch-7"])
        .await;
    // Then
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["usd"].to_string(), "0.0043");
    assert_eq!(first["tags"], json!(["apple", "batch-7"]));
    // When: retried, even with other units, it answers the first result and records nothing.
    let head = app.log_head();
    let (status, again) = app
        .meter(&key, &olive.project_id, &request_id, 600, &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first);
    assert_eq!(app.log_head(), head);
    // When: a request the project cannot pay for (four hours is $1.032).
    let (status, body) = app
        .meter(&key, &olive.project_id, &uuid(), 4 * 3600, &[])
        .await;
    // Then
    assert_error(
        status,
        &body,
        StatusCode::PAYMENT_REQUIRED,
        "ASR_PAYMENT_REQUIRED",
    );
    assert_eq!(app.log_head(), head);
    let (_, balances) = app
        .get(
            &format!("/v1/projects/{}/balances", olive.project_id),
            &olive.session,
        )
        .await;
    assert_eq!(balances["balances"][0]["amount"].to_string(), "0.9957");
    // The request log carries the cost.
    let (status, record) = app
        .get(
            &format!("/v1/projects/{}/requests/{request_id}", olive.project_id),
            &olive.session,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(
        record["request"]["response"]["details"]["usd"].to_string(),
        "0.0043"
    );
}

#[tokio::test]
async fn a_failed_request_is_recorded_and_costs_nothing() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    // When
    let (status, body) = app
        .post(
            &format!("/v1/projects/{}/requests", olive.project_id),
            &key.auth,
            json!({"request_id": uuid(), "endpoint": "listen", "method": "sync",
                   "model": "nova-3", "units": {"audio_seconds": 30.25}, "code": 503}),
        )
        .await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["usd"], json!(0));
    let (_, log) = app
        .get(
            &format!("/v1/projects/{}/requests", olive.project_id),
            &olive.session,
        )
        .await;
    assert_eq!(log["requests"][0]["code"], json!(503));
    assert_eq!(
        log["requests"][0]["response"]["details"]["duration"],
        json!(30.25)
    );
}

#[tokio::test]
async fn bad_metering_requests_are_refused_and_change_nothing() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let reader = app
        .create_key(&olive.session, &olive.project_id, &["usage:read"], &[])
        .await;
    let requests = format!("/v1/projects/{}/requests", olive.project_id);
    let good = || {
        json!({"request_id": uuid(), "endpoint": "listen", "method": "sync", "model": "nova-3",
               "units": {"audio_seconds": 1}, "code": 200})
    };
    let with = |field: &str, value: serde_json::Value| {
        let mut body = good();
        body[field] = value;
        body
    };
    let head = app.log_head();
    // When / Then
    for (auth, body, status, category) in [
        (
            &key.auth,
            with("endpoint", json!("dance")),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &key.auth,
            with("method", json!("telepathy")),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &key.auth,
            with("code", json!(42)),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &key.auth,
            with("request_id", json!("not-a-uuid")),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            &key.auth,
            with("units", json!({"audio_seconds": -1})),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            &key.auth,
            with("units", json!({"audio_seconds": 1.0001})),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            &key.auth,
            with("units", json!({"characters": 10_000_000_000u64})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &key.auth,
            with("model", json!("")),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &key.auth,
            with("tags", json!(["a\u{0}b"])),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            &reader.auth,
            good(),
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
        ),
        (
            &olive.session,
            good(),
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
        ),
    ] {
        let (got, answer) = app.post(&requests, auth, body.clone()).await;
        assert_error(got, &answer, status, category);
        assert_eq!(app.log_head(), head, "{body}");
    }
}

#[tokio::test]
async fn a_configured_price_table_prices_metering() {
    // Given: Nova at $0.0059 a minute instead of the list price.
    let table = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        table.path(),
        r#"{"rules": [{"endpoint": "listen", "model": "nova-3", "unit": "audio_minute",
                       "usd_per_unit": "0.0059"}]}"#,
    )
    .unwrap();
    let path = table.path().to_owned();
    let app = spawn_app_with(|settings| settings.price_table = Some(path)).await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    // When
    let (status, body) = app.meter(&key, &olive.project_id, &uuid(), 90, &[]).await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["usd"].to_string(), "0.00885");
}

#[tokio::test]
async fn expired_credit_leaves_the_balances_and_the_sweeper_records_it_once() {
    // Given: $5 of contract credit ending on 10 November, besides the promotional $200.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    app.post(
        &format!("/v1/operator/projects/{}/credits", olive.project_id),
        &Auth::operator(),
        json!({"amount": 5, "units": "usd", "source": "contract", "expires_at": "2026-11-10"}),
    )
    .await;
    let balances = format!("/v1/projects/{}/balances", olive.project_id);
    // (Read as the operator: Olive's week-long session ends before the credit does.)
    let count = |body: &serde_json::Value| body["balances"].as_array().unwrap().len();
    // When
    app.advance_days(8);
    let (_, before) = app.get(&balances, &Auth::operator()).await;
    app.advance_days(1);
    let (_, after) = app.get(&balances, &Auth::operator()).await;
    let (_, as_of) = app
        .get(&format!("{balances}?as_of=2026-11-09"), &Auth::operator())
        .await;
    for _ in 0..3 {
        app.state
            .steward
            .execute(
                steward_events::Actor::System,
                steward::domain::Command::ExpireCredits,
            )
            .await
            .unwrap();
    }
    // Then
    assert_eq!((count(&before), count(&after), count(&as_of)), (2, 1, 2));
    let (_, audit) = app
        .get(
            &format!(
                "/v1/projects/{}/audit?type=credits_expired",
                olive.project_id
            ),
            &Auth::operator(),
        )
        .await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(
        audit["events"][0]["event"]["amount"],
        json!(5_000_000_000u64)
    );
    let (status, body) = app
        .get(&format!("{balances}?as_of=someday"), &Auth::operator())
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY_PARAMETER",
    );
}
