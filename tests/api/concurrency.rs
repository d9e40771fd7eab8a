//! Races on one project end in a state some serial order of the same commands would give.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use steward_events::{Event, KeyId};

#[tokio::test]
async fn two_admins_demoting_each_other_end_with_exactly_one_demoted() {
    for _ in 0..10 {
        // Given
        let app = spawn_app().await;
        let olive = app.signup("olive@fruit.example").await;
        let adam = app.signup("adam@fruit.example").await;
        let nina = app.signup("nina@fruit.example").await;
        app.invite_and_accept(&olive, &adam, "admin").await;
        app.invite_and_accept(&olive, &nina, "admin").await;
        let scopes = |who: &Person| {
            format!(
                "/v1/projects/{}/members/{}/scopes",
                olive.project_id, who.account_id
            )
        };
        let demote = json!({"scope": "member"});
        // When
        let (nina_scopes, adam_scopes) = (scopes(&nina), scopes(&adam));
        let (adam_demotes_nina, nina_demotes_adam) = tokio::join!(
            app.call(
                Method::PUT,
                &nina_scopes,
                &adam.session,
                Some(demote.clone())
            ),
            app.call(
                Method::PUT,
                &adam_scopes,
                &nina.session,
                Some(demote.clone())
            ),
        );
        // Then: whichever came first won; the loser had already lost the right.
        let statuses = [adam_demotes_nina.0, nina_demotes_adam.0];
        assert!(
            statuses == [StatusCode::OK, StatusCode::FORBIDDEN]
                || statuses == [StatusCode::FORBIDDEN, StatusCode::OK],
            "{statuses:?}"
        );
        let (_, members) = app
            .get(
                &format!("/v1/projects/{}/members", olive.project_id),
                &olive.session,
            )
            .await;
        let mut roles: Vec<&str> = members["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["scopes"][0].as_str().unwrap())
            .collect();
        roles.sort();
        assert_eq!(roles, ["admin", "member", "owner"]);
    }
}

#[tokio::test]
async fn two_transfers_draining_one_balance_never_overdraw_it() {
    // Given: $1 of card credit.
    let app = spawn_app_with(|settings| {
        settings.promotional_credit_usd = steward_events::Nanodollars::new(0)
    })
    .await;
    let olive = app.signup("olive@fruit.example").await;
    let (status, body) = app
        .post(
            &format!("/v1/operator/projects/{}/credits", olive.project_id),
            &Auth::operator(),
            json!({"amount": "1", "units": "usd", "source": "card"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, labs) = app
        .post("/v1/projects", &olive.session, json!({"name": "Labs"}))
        .await;
    let labs = labs["project_id"].as_str().unwrap().to_owned();
    let transfer = json!({"from_project_id": olive.project_id, "to_project_id": labs,
                          "amount": "0.75", "units": "usd"});
    // When
    let (first, second) = tokio::join!(
        app.post("/v1/transfers", &olive.session, transfer.clone()),
        app.post("/v1/transfers", &olive.session, transfer.clone()),
    );
    // Then
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::PAYMENT_REQUIRED]);
    let balance = |project: &str| {
        let (app, session, project) = (&app, &olive.session, project.to_owned());
        async move {
            let (_, body) = app
                .get(&format!("/v1/projects/{project}/balances"), session)
                .await;
            body["balances"][0]["amount"].to_string()
        }
    };
    assert_eq!(balance(&olive.project_id).await, "0.25");
    assert_eq!(balance(&labs).await, "0.75");
}

#[tokio::test]
async fn metering_while_the_key_is_deleted_records_exactly_what_was_acknowledged_first() {
    // Given
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let request_ids: Vec<String> = (0..40).map(|_| uuid()).collect();
    // When: forty meterings race one deletion of the key.
    let meterings = request_ids
        .iter()
        .map(|request_id| app.meter(&key, &olive.project_id, request_id, 10, &[]));
    let key_path = format!("/v1/projects/{}/keys/{}", olive.project_id, key.id);
    let deletion = app.delete(&key_path, &olive.session);
    let (answers, deleted) = tokio::join!(join_all(meterings), deletion);
    // Then
    assert_eq!(deleted.0, StatusCode::OK);
    let acknowledged: Vec<&String> = request_ids
        .iter()
        .zip(&answers)
        .filter(|(_, (status, _))| *status == StatusCode::OK)
        .map(|(id, _)| id)
        .collect();
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::UNAUTHORIZED,
            "{status} {body}"
        );
    }
    // The log orders them: every recorded metering before the deletion, none after.
    let log = app.state.steward.log();
    let key_id: KeyId = key.id.parse().unwrap();
    let mut deleted_at = None;
    let mut recorded = Vec::new();
    for envelope in log.read_from(1) {
        let envelope = envelope.unwrap();
        match envelope.event {
            Event::ApiKeyDeleted {
                key_id: deleted, ..
            } if deleted == key_id => deleted_at = Some(envelope.position),
            Event::UsageRecorded {
                request_id,
                key_id: by,
                ..
            } if by == key_id => {
                assert!(
                    deleted_at.is_none(),
                    "a metering was recorded after the deletion"
                );
                recorded.push(request_id.to_string());
            }
            _ => {}
        }
    }
    assert!(deleted_at.is_some());
    let mut acknowledged: Vec<String> = acknowledged.into_iter().cloned().collect();
    acknowledged.sort();
    recorded.sort();
    assert_eq!(recorded, acknowledged);
}

/// Awaits every future concurrently, answers in order.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(context) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|output| output.expect("every future finished"))
        .collect()
}
