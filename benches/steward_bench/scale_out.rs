//! 7. Scale-out: metered requests over HTTP on one PostgreSQL log, through one node and spread
//!    over three nodes (one wrk per node, at once), all in this process on this machine.

use super::http::{find_wrk, sign_up_with_key, wrk_load, Owner, WrkBody};
use super::*;
use steward_events::log::postgres::cluster::Cluster;

/// Connections in all, spread evenly over the nodes.
const CONNECTIONS: usize = 64;

/// Starts `nodes` nodes on `postgres_url`; answers their addresses once one is the writer.
async fn start_nodes(postgres_url: &str, directory: &Path, nodes: usize) -> Vec<String> {
    let mut addresses = Vec::new();
    let mut states = Vec::new();
    for index in 0..nodes {
        // The advertised address must be known before binding: a port free a moment ago.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut settings = ServeSettings::embedded_default();
        settings.data_dir = directory.join(format!("node{index}"));
        settings.postgres_url = Some(postgres_url.to_owned());
        settings.listen = format!("127.0.0.1:{port}").parse().unwrap();
        settings.promotional_credit_usd = Nanodollars::from_usd(1_000_000_000);
        let application = Application::build(settings, Arc::new(SystemClock))
            .await
            .unwrap();
        states.push(application.state().clone());
        tokio::spawn(async move {
            application
                .run_until_stopped(std::future::pending())
                .await
                .unwrap()
        });
        addresses.push(format!("http://127.0.0.1:{port}"));
    }
    for _ in 0..100 {
        if states.iter().any(|state| state.steward.is_writer()) {
            return addresses;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no node was elected the writer");
}

pub(super) async fn scale_out(mode: &Mode) {
    println!(
        "\n## Scale-out: metered requests over HTTP on one PostgreSQL log ({CONNECTIONS} \
         connections; requests/s median (min–max) of {})\n",
        mode.repetitions
    );
    let Some(wrk) = find_wrk() else {
        println!("skipped: wrk is not installed");
        return;
    };
    let postgres = match Cluster::start() {
        Ok(postgres) => postgres,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let seconds = if mode.quick { 1 } else { 4 };
    let client = reqwest::Client::new();
    println!("| nodes | requests/s | p50 / p99 (first node) | vs one node |");
    println!("|---|---|---|---|");
    let mut one_node = None;
    for nodes in [1usize, 3] {
        let directory = tempfile::tempdir().unwrap();
        let name = format!("scale_out_{nodes}");
        let url = tokio::task::block_in_place(|| postgres.create_database(&name)).unwrap();
        let addresses = start_nodes(&url, directory.path(), nodes).await;
        // Through the first node, which sends the commands on if it is not the writer.
        let Owner { project, key, .. } = sign_up_with_key(&client, &addresses[0], &[]).await;
        let mut rates = Vec::new();
        let mut first = None;
        for _ in 0..mode.repetitions {
            let loads = futures_util::future::join_all(addresses.iter().map(|address| {
                let url = format!("{address}/v1/projects/{project}/requests");
                wrk_load(
                    &wrk,
                    CONNECTIONS / nodes,
                    seconds,
                    url,
                    &key,
                    WrkBody::Metering,
                )
            }))
            .await;
            rates.push(loads.iter().map(|load| load.rate).sum::<f64>());
            first = loads.into_iter().next();
        }
        let (min, median, max) = spread(rates);
        let first = first.expect("at least one repetition");
        let versus = match one_node {
            None => {
                one_node = Some(median);
                "1.00".to_owned()
            }
            Some(one) => format!("{:.2}", median / one),
        };
        println!(
            "| {nodes} | {} | {:.2} / {:.2} ms | {versus} |",
            show((min, median, max)),
            first.p50.as_secs_f64() * 1e3,
            first.p99.as_secs_f64() * 1e3,
        );
    }
}
