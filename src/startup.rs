//! Start-up: open the data directory, build the router, bind, serve until a signal.

use crate::limits::OPERATOR_TOKEN_CHARS_MIN;
use crate::{
    clock::Clock,
    config::ServeSettings,
    delivery::{Mailer, SmtpSettings},
    domain::Command,
    grants::GrantKeys,
    http::{self, idempotency::IdempotencyStore, throttle, AppState, HttpSettings, Services},
    metrics::Metrics,
    models::ModelCatalog,
    outbox::Outbox,
    pricing::PriceTable,
    sessions::Sessions,
    Steward,
};
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
use steward_events::{Actor, LogError};
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the event log: {0}")]
    Log(#[from] LogError),
    #[error("storage: {0}")]
    Storage(#[from] sled::Error),
    #[error("listening: {0}")]
    Io(#[from] std::io::Error),
    #[error("the operator token must be at least {OPERATOR_TOKEN_CHARS_MIN} characters")]
    WeakOperatorToken,
    #[error("{0}")]
    PriceTable(String),
    #[error("{0}")]
    ModelCatalog(String),
    #[error("grant signing keys: {0}")]
    GrantKeys(String),
    /// A mail setting (`--smtp-url`, `--smtp-from`, `--public-url`) that cannot be used.
    #[error("{0}")]
    Mail(String),
    /// A cluster setting (`--advertise-url`) that cannot be used.
    #[error("{0}")]
    Cluster(String),
}

/// The text of a configuration file, or why it cannot be read.
fn read_file(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| format!("reading {}: {error}", path.display()))
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    sweep_interval: Duration,
    /// Where invitation emails go; none without `--smtp-url`.
    smtp: Option<SmtpSettings>,
}

impl Application {
    /// Opens the data directory (replaying the log), and binds the listen address.
    pub async fn build(settings: ServeSettings, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        if settings
            .operator_token
            .as_ref()
            .is_some_and(|token| token.chars().count() < OPERATOR_TOKEN_CHARS_MIN)
        {
            return Err(StartError::WeakOperatorToken);
        }
        let pricing = match &settings.price_table {
            Some(path) => read_file(path)
                .and_then(|text| PriceTable::from_json(&text))
                .map_err(StartError::PriceTable)?,
            None => PriceTable::default(),
        };
        let models = match &settings.model_catalog {
            Some(path) => read_file(path)
                .and_then(|text| ModelCatalog::from_json(&text))
                .map_err(StartError::ModelCatalog)?,
            None => ModelCatalog::default(),
        };
        let public_url = settings.public_url().map_err(StartError::Mail)?;
        let smtp = (settings.smtp_url.as_deref())
            .map(|url| SmtpSettings::parse(url, &settings.smtp_from, settings.smtp_max_attempts))
            .transpose()
            .map_err(StartError::Mail)?;
        let steward = Arc::new(match &settings.postgres_url {
            None => Steward::open(&settings.data_dir, clock)?,
            Some(url) => {
                let advertised = settings.advertise_url().map_err(StartError::Cluster)?;
                Steward::open_cluster(url, &settings.data_dir, clock, advertised)?
            }
        });
        let grants =
            GrantKeys::open(&settings.data_dir, steward.now()).map_err(StartError::GrantKeys)?;
        let store = Arc::clone(steward.log_arc());
        let outbox = Arc::new(Outbox::open(
            &store,
            steward.writer(),
            i64::from(settings.invitation_ttl_hours) * 3600,
        )?);
        let state = AppState::new(Services {
            sessions: Arc::new(Sessions::open(
                &store,
                steward.writer(),
                i64::from(settings.session_ttl_hours) * 3600,
            )?),
            metrics: Arc::new(Metrics::new(steward.commit_metrics(), outbox.failures())),
            outbox,
            pricing: Arc::new(pricing),
            models: Arc::new(models),
            grants: Arc::new(grants),
            idempotency: Arc::new(IdempotencyStore::open(
                &store,
                steward.writer(),
                i64::from(settings.idempotency_ttl_hours) * 3600,
            )?),
            auth_failures: Arc::new(throttle::auth_failures(settings.auth_failures_per_minute)),
            signups: Arc::new(throttle::signups(settings.signups_per_minute)),
            settings: Arc::new(HttpSettings {
                operator_token: settings.operator_token.clone(),
                open_signup: settings.open_signup,
                promotional_credit: Some(settings.promotional_credit_usd),
                invitation_ttl_seconds: i64::from(settings.invitation_ttl_hours) * 3600,
                public_url,
                trusted_proxies: settings.trusted_proxies.clone(),
            }),
            steward,
        });
        let listener = TcpListener::bind(settings.listen).await?;
        Ok(Self {
            listener,
            state,
            sweep_interval: Duration::from_secs(settings.sweep_interval_seconds.max(1)),
            smtp,
        })
    }

    /// The port bound (tests bind port 0).
    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
            .port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves; then stops taking connections, lets every request in
    /// flight finish, answers every queued command, and flushes the log.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let Self {
            listener,
            state,
            sweep_interval,
            smtp,
        } = self;
        let sweeper = tokio::spawn(sweep(Arc::clone(&state.steward), sweep_interval));
        let store_sweeper = tokio::spawn(sweep_stores(state.clone()));
        let mailer = match smtp {
            Some(smtp) => Some(tokio::spawn(
                Mailer {
                    steward: Arc::clone(&state.steward),
                    outbox: Arc::clone(&state.outbox),
                    smtp,
                }
                .run(),
            )),
            None => {
                tracing::info!(
                    "no --smtp-url: invitation emails are not sent; they wait in the outbox \
                     (GET /v1/operator/outbox)"
                );
                None
            }
        };
        let steward = Arc::clone(&state.steward);
        tracing::info!(address = %listener.local_addr()?, "serving");
        let service =
            axum::ServiceExt::into_make_service_with_connect_info::<SocketAddr>(http::app(state));
        axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await?;
        sweeper.abort();
        store_sweeper.abort();
        let _ = sweeper.await;
        let _ = store_sweeper.await;
        if let Some(mailer) = mailer {
            mailer.abort();
            let _ = mailer.await;
        }
        match Arc::try_unwrap(steward) {
            Ok(steward) => steward.shutdown()?,
            Err(steward) => steward.log().flush()?,
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Records expired credit every `interval`; idempotent, so restarts and replays are harmless.
async fn sweep(steward: Arc<Steward>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        if !steward.is_writer() {
            // In a cluster the writer sweeps.
            continue;
        }
        // Each command records at most EXPIRIES_PER_SWEEP_MAX expiries: repeat until done.
        loop {
            match steward.execute(Actor::System, Command::ExpireCredits).await {
                Ok(events) if events.len() >= crate::limits::EXPIRIES_PER_SWEEP_MAX => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::error!(%error, "the credit expiry sweep failed");
                    break;
                }
            }
        }
    }
}

/// How often expired sessions, idempotency answers and outbox messages are swept.
const STORE_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Sweeps the stores beside the log every `STORE_SWEEP_INTERVAL`.
async fn sweep_stores(state: AppState) {
    let mut ticks = tokio::time::interval(STORE_SWEEP_INTERVAL);
    loop {
        ticks.tick().await;
        if !state.steward.is_writer() {
            continue;
        }
        if let Err(error) = http::sweep_stores(&state).await {
            tracing::error!(%error, "sweeping expired sessions, answers and messages failed");
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
