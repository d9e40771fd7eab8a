//! A follower whose writer stops answering in the middle of a command: what it tells the
//! caller. The writer's address comes from the log's head row, so a listener that reads a
//! command and closes without an answer (as a writer killed while deciding it), or a port
//! nothing listens on, stands for the writer by taking its place in that row.

use super::{console_login, node, node::Deployment, setup, writer_url};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Points the other nodes at `writer` for their commands.
fn set_writer_url(postgres_url: &str, writer: &str) {
    let mut client = postgres::Client::connect(postgres_url, postgres::NoTls).unwrap();
    client
        .execute("UPDATE steward_log_head SET writer_url = $1", &[&writer])
        .unwrap();
}

/// A writer that reads each command's head and closes the connection without answering.
async fn dying_writer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (mut seen, mut buffer) = (Vec::new(), [0u8; 4096]);
            while !seen.windows(4).any(|window| window == b"\r\n\r\n") {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => seen.extend_from_slice(&buffer[..read]),
                }
            }
        }
    });
    url
}

/// A refusal's status, `Retry-After`, whether it is a page, and its body.
async fn refusal(answer: reqwest::Response) -> (StatusCode, Option<String>, bool, String) {
    let status = answer.status();
    let retry_after =
        (answer.headers().get("retry-after")).map(|value| value.to_str().unwrap().to_owned());
    let html = (answer.headers().get("content-type"))
        .is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
    (status, retry_after, html, answer.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
async fn a_writer_lost_mid_command_is_told_apart_from_one_never_reached() {
    // Given: the harness's nodes, a tenant, and a follower.
    // (The cluster and the directory last as long as their bindings.)
    let Deployment {
        cluster: _cluster,
        directory: _directory,
        url,
        ports,
        nodes,
    } = Deployment::start("forwarding", super::NODES).await;
    let http = reqwest::Client::new();
    let tenant = setup(&http, &ports, 0).await;
    let writer = writer_url(&url).await.expect("a writer is elected");
    let follower = (ports.iter())
        .map(|port| format!("http://127.0.0.1:{port}"))
        .find(|base| *base != writer)
        .unwrap();
    let keys_path = format!("{follower}/v1/projects/{}/keys", tenant.project);
    let key_count = || async {
        let keys: Value = (http.get(&keys_path))
            .header("Authorization", &tenant.session)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        keys["api_keys"].as_array().unwrap().len()
    };
    let keys_before = key_count().await;
    let create_key = || {
        (http.post(&keys_path))
            .header("Authorization", &tenant.session)
            .json(&json!({"comment": "laptop", "scopes": ["member"]}))
            .timeout(Duration::from_secs(20))
            .send()
    };

    // When: the writer reads a command and dies before it answers
    let dying = dying_writer().await;
    tokio::task::block_in_place(|| set_writer_url(&url, &dying));
    let (status, retry_after, _, body) = refusal(create_key().await.unwrap()).await;
    // Then: 503, saying the command may have been recorded
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["category"], "SERVICE_UNAVAILABLE", "{body}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("whether this was recorded"), "{body}");
    // And a Console form, sent by a signed-in person, is answered a page that says the same,
    // with their session still shown.
    let token = tenant.session.trim_start_matches("Bearer ");
    let answer = console_login(&http, &follower, &format!("steward_session={token}")).await;
    let (status, retry_after, html, page) = refusal(answer).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{page}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(html, "{page}");
    assert!(page.contains("Try again in a moment"), "{page}");
    assert!(page.contains("whether this was recorded"), "{page}");
    assert!(page.contains("owner0@scale.example"), "{page}");

    // When: nothing listens where the writer was
    let gone = format!("http://127.0.0.1:{}", node::free_port());
    tokio::task::block_in_place(|| set_writer_url(&url, &gone));
    let (status, retry_after, _, body) = refusal(create_key().await.unwrap()).await;
    // Then: 503, saying nothing was recorded
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(body.contains("nothing was recorded"), "{body}");

    // When: the writer is where it was again
    tokio::task::block_in_place(|| set_writer_url(&url, &writer));
    let answer = create_key().await.unwrap();
    // Then: the follower's command is decided, and only that one was recorded.
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(key_count().await, keys_before + 1);
    for node in nodes {
        node.stop();
    }
}
