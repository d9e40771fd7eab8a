//! Reads under load (section 5): while four clients run two-tag usage queries over a project
//! with many recorded requests (each reads every request back from the log), authenticated
//! GETs at 16 connections keep their p99 near the idle p99, and metering goes on. The ratio of
//! the two p99s is the figure (target: at most 3).

use super::*;
use http::{find_wrk, load, sign_up_with_key, wrk_load, Load, Owner, WrkBody};

/// Serves `data` until the returned sender is dropped or fired; the handle ends with the server.
async fn serve(
    data: &Path,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let mut settings = ServeSettings::embedded_default();
    settings.data_dir = data.to_owned();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.signups_per_minute = 0;
    settings.promotional_credit_usd = Nanodollars::from_usd(1_000_000);
    let application = Application::build(settings, Arc::new(SystemClock))
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", application.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        application
            .run_until_stopped(async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    (address, stop, server)
}

/// 16 connections of authenticated GETs for `seconds`.
async fn gets(url: &str, key: &str, seconds: f64, client: &reqwest::Client) -> Load {
    match find_wrk() {
        Some(wrk) => {
            wrk_load(
                &wrk,
                16,
                seconds.ceil() as u64,
                url.to_owned(),
                key,
                WrkBody::None,
            )
            .await
        }
        None => {
            let (client, url, key) = (client.clone(), url.to_owned(), key.to_owned());
            load(16, seconds, move |_| {
                let (client, url, key) = (client.clone(), url.clone(), key.clone());
                async move {
                    client
                        .get(&url)
                        .header("Authorization", &key)
                        .send()
                        .await
                        .unwrap()
                        .status()
                }
            })
            .await
        }
    }
}

pub(super) async fn contention(mode: &Mode) {
    let requests: u64 = if mode.quick { 50_000 } else { 1_000_000 };
    let seconds: f64 = if mode.quick { 2.0 } else { 10.0 };
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("data");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();

    // Given: a project and a key made through the API, then `requests` recorded requests
    // appended to its log while the server is stopped.
    let (address, stop, server) = serve(&data).await;
    let Owner {
        project,
        key_id,
        key,
        ..
    } = sign_up_with_key(&client, &address, &[]).await;
    let _ = stop.send(());
    server.await.unwrap();
    let project_id: ProjectId = project.parse().unwrap();
    {
        let log = SledLog::open(&data).unwrap();
        let end = Timestamp::from_datetime(chrono::Utc::now());
        let start = end.plus_seconds(-30 * 86_400);
        let mut written = 0;
        while written < requests {
            let commits = (written..(written + 1000).min(requests))
                .map(|n| {
                    let at = start.plus_seconds((n * 30 * 86_400 / requests) as i64);
                    commit_of(
                        vec![usage_event_of(project_id, key_id, n, Nanodollars::ZERO)],
                        at,
                    )
                })
                .collect();
            for outcome in log.append_all(commits).unwrap() {
                outcome.unwrap();
            }
            written = (written + 1000).min(requests);
        }
    }
    let (address, stop, server) = serve(&data).await;
    let get_url = format!("{address}/v1/projects/{project}");

    // When: GETs alone; then GETs while four clients query two tags and one meters.
    let idle = gets(&get_url, &key, seconds, &client).await;
    let running = Arc::new(AtomicBool::new(true));
    let (queries, metered) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut background = Vec::new();
    for _ in 0..4 {
        let (client, running, queries) =
            (client.clone(), Arc::clone(&running), Arc::clone(&queries));
        let url = format!("{address}/v1/projects/{project}/usage?tag=apple&tag=banana");
        let key = key.clone();
        background.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let status = client
                    .get(&url)
                    .header("Authorization", &key)
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert!(status.is_success(), "{status}");
                queries.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    {
        let (client, running, metered) =
            (client.clone(), Arc::clone(&running), Arc::clone(&metered));
        let url = format!("{address}/v1/projects/{project}/requests");
        let key = key.clone();
        background.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let body = json!({"request_id": Uuid::now_v7(), "endpoint": "listen", "method": "sync", "model": "nova-3", "units": {"audio_seconds": 1}, "code": 200});
                let status = client.post(&url).header("Authorization", &key).json(&body).send().await.unwrap().status();
                assert!(status.is_success(), "{status}");
                metered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Let the queries get going first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let loaded = gets(&get_url, &key, seconds, &client).await;
    let metered_during = metered.load(Ordering::Relaxed);
    running.store(false, Ordering::Relaxed);
    for task in background {
        task.await.unwrap();
    }

    // Then
    println!(
        "\n## Reads under load: {requests} recorded requests, 4 clients querying two tags, 1 metering\n"
    );
    println!("| authenticated GETs, 16 connections | requests/s | p50 | p99 |");
    println!("|---|---|---|---|");
    println!(
        "| idle | {:.0} | {:.1?} | {:.1?} |",
        idle.rate, idle.p50, idle.p99
    );
    println!(
        "| during the queries | {:.0} | {:.1?} | {:.1?} |",
        loaded.rate, loaded.p50, loaded.p99
    );
    println!(
        "\np99 under load / idle p99: {:.2} (target ≤ 3); two-tag queries answered: {}; metered meanwhile: {} ({:.0}/s)",
        loaded.p99.as_secs_f64() / idle.p99.as_secs_f64(),
        queries.load(Ordering::Relaxed),
        metered_during,
        metered_during as f64 / (seconds + 0.2),
    );
    let _ = stop.send(());
    server.await.unwrap();
}
