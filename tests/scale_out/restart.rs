//! The shared database itself restarts (as after a crash of its machine): every node's
//! sessions are cut, the writer's lock with them. No node may exit or wedge; each connects
//! again, a writer is elected again, and the log continues with nothing lost or doubled.

use super::{
    command, console_login,
    node::{Deployment, Node},
    read_models_equal, recorded_unanswered, setup, sound_log,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};
use steward_events::Event;
use uuid::Uuid;

/// Usage records sent before the restart, and again after it.
const RECORDS_EACH_SIDE: usize = 6;
/// How soon after the database is back every node must take commands again.
const BACK_WITHIN: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
async fn every_node_carries_on_once_the_database_is_back() {
    // Given: three nodes on one database, and usage recorded through each.
    let Deployment {
        cluster,
        url,
        directory,
        ports,
        mut nodes,
    } = Deployment::start("restart", super::NODES).await;
    let http = reqwest::Client::new();
    let tenant = setup(&http, &ports, 0).await;
    let meter = |first: usize| {
        let request_id = Uuid::now_v7().to_string();
        let body = json!({"request_id": request_id, "endpoint": "listen", "method": "sync",
            "model": "nova-3", "units": {"audio_seconds": 30}, "code": 200});
        let path = format!("/v1/projects/{}/requests", tenant.project);
        let (http, ports, key) = (&http, &ports, &tenant.key);
        async move {
            let (_, status, answer) =
                command(http, ports, first, Method::POST, &path, key, body).await;
            assert!(
                status == StatusCode::OK || recorded_unanswered(status, &answer),
                "metering: {status} {answer}"
            );
            request_id
        }
    };
    let mut acknowledged = Vec::new();
    for index in 0..RECORDS_EACH_SIDE {
        acknowledged.push(meter(index % ports.len()).await);
    }

    let writer = super::writer_url(&url).await.expect("a writer is elected");
    let writer = (0..ports.len())
        .find(|&index| super::base(&ports, index) == writer)
        .expect("the writer is one of the nodes");

    // When: the database crashes. While it is down, a read that needs it (a recorded request,
    // or a session, which lives beside the log) is refused with 503 and the error JSON on every
    // node, not a 500.
    tokio::task::block_in_place(|| cluster.stop_now()).unwrap();
    let request = format!(
        "/v1/projects/{}/requests/{}",
        tenant.project, acknowledged[0]
    );
    let reads = [
        (request.as_str(), &tenant.key),
        ("/v1/projects", &tenant.session),
    ];
    for (port, (path, auth)) in ports.iter().flat_map(|port| reads.map(|read| (port, read))) {
        let answer = http
            .get(format!("http://127.0.0.1:{port}{path}"))
            .header("Authorization", auth.as_str())
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let retry_after = answer.headers().get("retry-after").cloned();
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(
            retry_after.as_ref().map(|value| value.as_bytes()),
            Some(&b"1"[..])
        );
        assert_eq!(body["category"], "SERVICE_UNAVAILABLE", "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains("database could not be reached"), "{body}");
    }
    // A signed-in person in the Console is told so too, not sent to log in.
    let token = tenant.session.trim_start_matches("Bearer ");
    for port in &ports {
        let answer = http
            .get(format!(
                "http://127.0.0.1:{port}/console/projects/{}/settings",
                tenant.project
            ))
            .header("Cookie", format!("steward_session={token}"))
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let retry_after = answer.headers().get("retry-after").cloned();
        let page = answer.text().await.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{page}");
        assert_eq!(
            retry_after.as_ref().map(|value| value.as_bytes()),
            Some(&b"1"[..])
        );
        assert!(
            page.contains("The Console cannot check your session"),
            "{page}"
        );
    }
    // Logging in is refused with a 503 on every node, and at once (the writer cannot read the
    // account's sessions). The writer shows the refusal beside the form (not a blank page); a
    // follower, which cannot ask who the writer is, a page saying so.
    let mut login_pages = 0;
    for port in &ports {
        let base = format!("http://127.0.0.1:{port}");
        let answer = console_login(&http, &base, "").await;
        let status = answer.status();
        let html = (answer.headers().get("content-type"))
            .is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
        let retry_after = answer.headers().get("retry-after").cloned();
        let page = answer.text().await.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{page}");
        assert!(html, "{page}");
        assert_eq!(
            retry_after.as_ref().map(|value| value.as_bytes()),
            Some(&b"1"[..])
        );
        assert!(page.contains("database could not be reached"), "{page}");
        if page.contains("Try again in a moment") {
            continue;
        }
        assert!(page.contains("Log in to the Console"), "{page}");
        assert!(page.contains("<p class=\"error\""), "{page}");
        login_pages += 1;
    }
    assert_eq!(login_pages, 1, "the writer answers with the login form");
    // A command the writer decides in memory (a key creation with the tenant's key) reaches
    // the append, whose commit fails: it is answered 503 at once, before the writer waits for
    // the database to reload its write model.
    let sent = Instant::now();
    let answer = http
        .post(format!(
            "{}/v1/projects/{}/keys",
            super::base(&ports, writer),
            tenant.project
        ))
        .header("Authorization", tenant.key.as_str())
        .json(&json!({"comment": "while the database is down", "scopes": ["member"]}))
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|message| message.contains("whether this was recorded is not known")),
        "{body}"
    );
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "the failed commit was answered after {:?}",
        sent.elapsed()
    );
    // The writer, waiting to reload its write model since that failed commit, stops cleanly
    // when told to, and at once: it gives up the reload rather than panic.
    let stopping = Instant::now();
    nodes.remove(writer).stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "the writer took {:?} to stop",
        stopping.elapsed()
    );
    let log = std::fs::read_to_string(directory.path().join(format!("node{writer}.log"))).unwrap();
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        log.contains("stopping before the write model could be reloaded"),
        "{log}"
    );
    // And it comes back.
    tokio::task::block_in_place(|| cluster.serve()).unwrap();
    let back = Instant::now();

    // Then: every node takes commands again (refusing with 503 meanwhile, never exiting),
    // and the log continues.
    for index in 0..RECORDS_EACH_SIDE {
        acknowledged.push(meter(index % ports.len()).await);
    }
    let took = back.elapsed();
    println!(
        "database restart: commands answered again after {:.2} s",
        took.as_secs_f64()
    );
    assert!(took < BACK_WITHIN, "the nodes took {took:?} to carry on");
    // The writer stopped above starts again, and is checked with the others.
    nodes.insert(
        writer,
        Node::start(&url, directory.path(), &ports, writer).await,
    );
    for (index, node) in nodes.iter_mut().enumerate() {
        assert!(node.is_running(), "node {index} exited");
    }
    let (envelopes, rebuilt) = sound_log(&url).await;
    let mut recorded: Vec<String> = envelopes
        .iter()
        .filter_map(|envelope| match &envelope.event {
            Event::UsageRecorded { request_id, .. } => Some(request_id.to_string()),
            _ => None,
        })
        .collect();
    recorded.sort();
    acknowledged.sort();
    assert_eq!(recorded, acknowledged, "usage lost or recorded twice");
    let head = envelopes.last().map_or(0, |envelope| envelope.position);
    read_models_equal(&http, &ports, &rebuilt, head).await;
    for node in nodes {
        node.stop();
    }
}
