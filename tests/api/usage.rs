//! Usage and billing queries over real recorded requests.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Olive's project with an apple key and a banana key, and four requests on 1 and 2 November.
async fn fruit_usage(app: &TestApp) -> (Person, Key, Key) {
    let olive = app.signup("olive@fruit.example").await;
    let apple = app
        .create_key(&olive.session, &olive.project_id, &["member"], &["apple"])
        .await;
    let banana = app
        .create_key(&olive.session, &olive.project_id, &["member"], &["banana"])
        .await;
    for (key, seconds, tags) in [
        (&apple, 60, vec![]),
        (&apple, 120, vec!["juice"]),
        (&banana, 30, vec![]),
    ] {
        let (status, body) = app
            .meter(key, &olive.project_id, &uuid(), seconds, &tags)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    app.advance_days(1);
    let (status, body) = app
        .meter(&banana, &olive.project_id, &uuid(), 90, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (olive, apple, banana)
}

fn dollars_by_tag(body: &Value) -> Vec<(Value, String)> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["grouping"]["tags"].clone(), r["dollars"].to_string()))
        .collect()
}

#[tokio::test]
async fn usage_totals_and_filters_add_up() {
    // Given
    let app = spawn_app().await;
    let (olive, apple, _) = fruit_usage(&app).await;
    let usage = format!(
        "/v1/projects/{}/usage?start=2026-11-01&end=2026-11-30",
        olive.project_id
    );
    // When
    let (status, all) = app.get(&usage, &olive.session).await;
    let (_, apple_only) = app
        .get(&format!("{usage}&accessor={}", apple.id), &olive.session)
        .await;
    let (_, juice) = app.get(&format!("{usage}&tag=juice"), &olive.session).await;
    // Then
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["requests"], json!(4));
    assert_eq!(all["hours"], json!(300.0 / 3600.0));
    assert_eq!(apple_only["requests"], json!(2));
    assert_eq!(juice["requests"], json!(1));
    assert_eq!(all["resolution"], json!({"units": "day", "amount": 1}));
}

#[tokio::test]
async fn billing_breakdown_by_tag_bills_each_customer_and_counts_a_two_tag_request_under_both() {
    // Given
    let app = spawn_app().await;
    let (olive, _, _) = fruit_usage(&app).await;
    // When
    let (status, body) = app
        .get(
            &format!(
                "/v1/projects/{}/billing/breakdown?start=2026-11-01&end=2026-11-30&grouping=tags",
                olive.project_id
            ),
            &olive.session,
        )
        .await;
    // Then: apple 60 s + 120 s, banana 30 s + 90 s, juice the 120 s request again.
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        dollars_by_tag(&body),
        [
            (json!(["apple"]), "0.0129".to_owned()),
            (json!(["banana"]), "0.0086".to_owned()),
            (json!(["juice"]), "0.0086".to_owned()),
        ]
    );
    let (_, total) = app
        .get(
            &format!(
                "/v1/projects/{}/billing/breakdown?start=2026-11-01&end=2026-11-30",
                olive.project_id
            ),
            &olive.session,
        )
        .await;
    assert_eq!(total["results"][0]["dollars"].to_string(), "0.0215");
}

#[tokio::test]
async fn usage_breakdown_groups_per_day_and_fields_list_what_was_used() {
    // Given
    let app = spawn_app().await;
    let (olive, apple, banana) = fruit_usage(&app).await;
    // When
    let (status, body) = app
        .get(
            &format!(
                "/v1/projects/{}/usage/breakdown?start=2026-11-01&end=2026-11-30&grouping=accessor",
                olive.project_id
            ),
            &olive.session,
        )
        .await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows: Vec<(String, String, u64)> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["grouping"]["start"].as_str().unwrap()[..10].to_owned(),
                r["grouping"]["accessor"].as_str().unwrap().to_owned(),
                r["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut expected = vec![
        ("2026-11-01".to_owned(), apple.id.clone(), 2),
        ("2026-11-01".to_owned(), banana.id.clone(), 1),
        ("2026-11-02".to_owned(), banana.id.clone(), 1),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    let (_, fields) = app
        .get(
            &format!(
                "/v1/projects/{}/usage/fields?start=2026-11-01",
                olive.project_id
            ),
            &olive.session,
        )
        .await;
    assert_eq!(fields["tags"], json!(["apple", "banana", "juice"]));
    assert_eq!(fields["models"][0]["name"], "nova-3");
    assert_eq!(fields["processing_methods"], json!(["sync"]));
    let (_, billing_fields) = app
        .get(
            &format!(
                "/v1/projects/{}/billing/fields?start=2026-11-01",
                olive.project_id
            ),
            &olive.session,
        )
        .await;
    assert_eq!(
        billing_fields["line_items"],
        json!({"listen::nova-3": "listen (nova-3)"})
    );
}

#[tokio::test]
async fn the_request_log_is_newest_first_paginated_and_filtered() {
    // Given
    let app = spawn_app().await;
    let (olive, apple, _) = fruit_usage(&app).await;
    let requests = format!("/v1/projects/{}/requests", olive.project_id);
    // When
    let (status, page) = app
        .get(&format!("{requests}?limit=2&page=0"), &olive.session)
        .await;
    let (_, second) = app
        .get(&format!("{requests}?limit=2&page=1"), &olive.session)
        .await;
    let (_, by_apple) = app
        .get(&format!("{requests}?accessor={}", apple.id), &olive.session)
        .await;
    // Then
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["requests"].as_array().unwrap().len(), 2);
    assert_eq!(second["requests"].as_array().unwrap().len(), 2);
    assert_eq!(
        page["requests"][0]["response"]["details"]["duration"],
        json!(90.0)
    );
    assert_eq!(by_apple["requests"].as_array().unwrap().len(), 2);
    // Bad queries are 400s.
    for query in [
        "limit=0",
        "limit=1001",
        "status=meh",
        "start=yesterday",
        "endpoint=dance",
        "start=2026-11-02&end=2026-11-01",
    ] {
        let (status, body) = app
            .get(&format!("{requests}?{query}"), &olive.session)
            .await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_PARAMETER",
        );
    }
}

#[tokio::test]
async fn the_billing_breakdown_comes_as_csv_with_a_total_counting_each_request_once() {
    // Given
    let app = spawn_app().await;
    let (olive, _, _) = fruit_usage(&app).await;
    let path = format!(
        "/v1/projects/{}/billing/breakdown?start=2026-11-01&end=2026-11-30&grouping=tags",
        olive.project_id
    );
    let Auth::Bearer(session) = &olive.session else {
        unreachable!()
    };
    // When
    let by_accept = app
        .client
        .get(format!("{}{path}", app.address))
        .header("Authorization", format!("Bearer {session}"))
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    let (_, by_format) = app.get(&format!("{path}&format=csv"), &olive.session).await;
    // Then
    assert_eq!(
        by_accept.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = by_accept.text().await.unwrap();
    assert_eq!(Value::String(csv.clone()), by_format);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].contains("a request with several tags is counted under each"),
        "{csv}"
    );
    assert!(
        lines[1].starts_with("line,") && lines[1].ends_with(",apple,0.0129"),
        "{csv}"
    );
    assert!(lines[3].ends_with(",juice,0.0086"), "{csv}");
    assert!(
        lines[4].starts_with("total,") && lines[4].ends_with(",,0.0215"),
        "{csv}"
    );
}

#[tokio::test]
async fn a_batch_answers_each_request_on_its_own() {
    // Given: $0.01 of credit, enough for two minutes of Nova, not three.
    let app = spawn_app_with(|settings| {
        settings.promotional_credit_usd = steward_events::Nanodollars::new(10_000_000)
    })
    .await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &["apple"])
        .await;
    let item = |request_id: &str, seconds: u64| {
        json!({"request_id": request_id, "endpoint": "listen", "method": "sync",
               "model": "nova-3", "units": {"audio_seconds": seconds}, "code": 200})
    };
    let repeated = uuid();
    // When
    let (status, body) = app
        .post(
            &format!("/v1/projects/{}/requests/batch", olive.project_id),
            &key.auth,
            json!({"requests": [
                item(&repeated, 60),
                {"request_id": "bad"},
                item(&uuid(), 60),
                item(&uuid(), 120),
            ]}),
        )
        .await;
    // Then
    assert_eq!(status, StatusCode::OK, "{body}");
    let statuses: Vec<u64> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 400, 200, 402]);
    assert_eq!(body["results"][0]["recorded"]["usd"].to_string(), "0.0043");
    assert_eq!(
        body["results"][3]["error"]["category"],
        "ASR_PAYMENT_REQUIRED"
    );
    // An empty or oversized batch is refused whole.
    let head = app.log_head();
    let too_many: Vec<Value> = (0..1001).map(|_| item(&uuid(), 1)).collect();
    for requests in [json!([]), json!(too_many)] {
        let (status, body) = app
            .post(
                &format!("/v1/projects/{}/requests/batch", olive.project_id),
                &key.auth,
                json!({ "requests": requests }),
            )
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    }
    assert_eq!(app.log_head(), head);
}

#[tokio::test]
async fn a_key_of_another_project_replaying_a_request_id_learns_nothing_of_it() {
    // Given: Olive's request, and Mia's key of her own project.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let olive_key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &["apple"])
        .await;
    let request_id = uuid();
    let (status, _) = app
        .meter(&olive_key, &olive.project_id, &request_id, 60, &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    let mia = app.signup("mia@fruit.example").await;
    let mia_key = app
        .create_key(&mia.session, &mia.project_id, &["owner"], &[])
        .await;
    let head = app.log_head();
    // When: Mia's key sends the same request id to Olive's project.
    let (status, body) = app
        .meter(&mia_key, &olive.project_id, &request_id, 60, &[])
        .await;
    // Then: not found, as any project of someone else's; nothing recorded.
    assert_error(status, &body, StatusCode::NOT_FOUND, "PROJECT_NOT_FOUND");
    assert_eq!(app.log_head(), head);
    // And Olive's key replaying it still gets the first answer.
    let (status, body) = app
        .meter(&olive_key, &olive.project_id, &request_id, 60, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tags"], json!(["apple"]));
}

#[tokio::test]
async fn the_request_and_audit_logs_page_by_cursor_and_refuse_a_page_too_deep() {
    // Given: five requests.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let mut recorded = Vec::new();
    for _ in 0..5 {
        let request_id = uuid();
        let (status, _) = app
            .meter(&key, &olive.project_id, &request_id, 1, &[])
            .await;
        assert_eq!(status, StatusCode::OK);
        recorded.push(request_id);
    }
    // When: two at a time, by cursor.
    let base = format!("/v1/projects/{}/requests?limit=2", olive.project_id);
    let (mut seen, mut path) = (Vec::new(), base.clone());
    loop {
        let (status, body) = app.get(&path, &olive.session).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for request in body["requests"].as_array().unwrap() {
            seen.push(request["request_id"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("{base}&cursor={cursor}"),
            None => break,
        }
    }
    // Then: each once, newest first.
    recorded.reverse();
    assert_eq!(seen, recorded);
    // And the audit log pages the same way.
    let audit = format!("/v1/projects/{}/audit?limit=3", olive.project_id);
    let (_, first) = app.get(&audit, &olive.session).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = app
        .get(&format!("{audit}&cursor={cursor}"), &olive.session)
        .await;
    let first_positions: Vec<u64> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    let second_top = second["events"][0]["position"].as_u64().unwrap();
    assert!(second_top < *first_positions.last().unwrap());
    // A page too deep is refused; so is a cursor that is not one.
    for path in [
        format!(
            "/v1/projects/{}/requests?limit=1000&page=11",
            olive.project_id
        ),
        format!(
            "/v1/projects/{}/requests?page=1000000000000000",
            olive.project_id
        ),
        format!("/v1/projects/{}/audit?limit=1000&page=11", olive.project_id),
        format!("/v1/projects/{}/requests?cursor=soon", olive.project_id),
    ] {
        let (status, body) = app.get(&path, &olive.session).await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_PARAMETER",
        );
    }
}

#[tokio::test]
async fn limit_and_page_may_be_whole_numbers_written_as_floats() {
    // Given: the Deepgram SDKs send `limit=10.0`, as the spec types it a number.
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let path = format!("/v1/projects/{}/requests", olive.project_id);
    // When / Then
    let (status, body) = app
        .get(&format!("{path}?limit=10.0&page=0.0"), &olive.session)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["limit"].clone(), body["page"].clone()),
        (json!(10), json!(0))
    );
    for odd in ["limit=10.5", "limit=-1.0", "page=NaN", "limit=1e400"] {
        let (status, body) = app.get(&format!("{path}?{odd}"), &olive.session).await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_PARAMETER",
        );
    }
}
