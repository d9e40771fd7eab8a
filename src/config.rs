//! Settings of `steward serve`, from flags or environment variables.

use clap::{ArgAction, Args};
use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
};
use steward_events::Nanodollars;

#[derive(Clone, Debug, Args)]
pub struct ServeSettings {
    /// Where the event log lives (a sled database; created if missing). With
    /// `--postgres-url`, only this node's checkpoint cache and grant signing keys.
    #[arg(long, env = "STEWARD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL connection string (`host=… dbname=…` or `postgresql://…`): the log,
    /// sessions, idempotency answers and the outbox live there, shared by every node started
    /// with it. Schema created or migrated on start-up.
    #[arg(long, env = "STEWARD_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    /// With `--postgres-url`: where the other nodes reach this one, to send it commands once
    /// it is the writer; `http://` and the listen address when absent.
    #[arg(long, env = "STEWARD_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// The address to listen on.
    #[arg(long, env = "STEWARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// `Authorization: Bearer <this>` acts as the operator; at least 32 characters. Without it
    /// the operator endpoints refuse every call.
    #[arg(long, env = "STEWARD_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// Whether anyone may sign up at `POST /v1/signup`.
    #[arg(long, env = "STEWARD_OPEN_SIGNUP", default_value_t = true, action = ArgAction::Set)]
    pub open_signup: bool,
    /// Promotional credit granted at signup, in USD; 0 for none. Expires a year later.
    #[arg(long, env = "STEWARD_PROMOTIONAL_CREDIT_USD", default_value = "200", value_parser = parse_usd)]
    pub promotional_credit_usd: Nanodollars,
    /// How long a login session lasts.
    #[arg(long, env = "STEWARD_SESSION_TTL_HOURS", default_value_t = 168)]
    pub session_ttl_hours: u32,
    /// How long an invitation stays acceptable.
    #[arg(long, env = "STEWARD_INVITATION_TTL_HOURS", default_value_t = 168)]
    pub invitation_ttl_hours: u32,
    /// A JSON price table for metering (see README); Deepgram's list prices when absent.
    #[arg(long, env = "STEWARD_PRICE_TABLE")]
    pub price_table: Option<PathBuf>,
    /// A JSON model catalog (see README); Deepgram's public models when absent.
    #[arg(long, env = "STEWARD_MODEL_CATALOG")]
    pub model_catalog: Option<PathBuf>,
    /// Failed authentications allowed per client address and minute before it gets 429s;
    /// 0 turns the limit off.
    #[arg(long, env = "STEWARD_AUTH_FAILURES_PER_MINUTE", default_value_t = 30)]
    pub auth_failures_per_minute: u32,
    /// Sign-ups allowed per client address (an IPv6 /64) and minute before it gets 429s; 0
    /// turns the limit off.
    #[arg(long, env = "STEWARD_SIGNUPS_PER_MINUTE", default_value_t = 10)]
    pub signups_per_minute: u32,
    /// How long an answer kept for an `Idempotency-Key` is replayed; then it is swept.
    #[arg(long, env = "STEWARD_IDEMPOTENCY_TTL_HOURS", default_value_t = 24)]
    pub idempotency_ttl_hours: u32,
    /// Where invitation emails are sent through: `smtp://host:port` (plain),
    /// `smtp://host:port?tls=required` (STARTTLS), `smtps://host:port` (implicit TLS), with
    /// optional `user:password@`. Without it nothing is sent; the outbox keeps the messages.
    #[arg(long, env = "STEWARD_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of invitation emails.
    #[arg(
        long,
        env = "STEWARD_SMTP_FROM",
        default_value = "Steward <steward@localhost>"
    )]
    pub smtp_from: String,
    /// Attempts per invitation email before it is marked failed.
    #[arg(long, env = "STEWARD_SMTP_MAX_ATTEMPTS", default_value_t = 8)]
    pub smtp_max_attempts: u32,
    /// The address people reach the console at, for the links in emails; `http://` and the
    /// listen address when absent.
    #[arg(long, env = "STEWARD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How often the sweeper records expired credit.
    #[arg(long, env = "STEWARD_SWEEP_INTERVAL_SECONDS", default_value_t = 3600)]
    pub sweep_interval_seconds: u64,
    /// Addresses of gateways in front of Steward (comma-separated IPs). A request from one of
    /// them is throttled by the last address of its `X-Forwarded-For`, the client the gateway
    /// saw, rather than by the gateway's own address.
    #[arg(long, env = "STEWARD_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,
}

/// `text`, the value of `flag`, without a trailing slash, if it is an absolute http(s) URL.
fn http_address(flag: &str, text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|error| format!("{flag} {text:?}: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{flag} {text:?}: must be an http or https address"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

fn parse_usd(text: &str) -> Result<Nanodollars, String> {
    Nanodollars::parse_usd(text)
        .ok_or_else(|| format!("{text:?} is not a USD amount with at most 9 decimals"))
}

impl ServeSettings {
    /// The console's address for links: `--public-url` without a trailing slash, or
    /// `http://` and the listen address. Refused unless an absolute http(s) URL.
    pub fn public_url(&self) -> Result<String, String> {
        match &self.public_url {
            Some(text) => http_address("--public-url", text),
            None => Ok(format!("http://{}", self.listen)),
        }
    }

    /// Where the other nodes of a cluster reach this one.
    pub fn advertise_url(&self) -> Result<String, String> {
        if let Some(text) = &self.advertise_url {
            return http_address("--advertise-url", text);
        }
        if self.listen.ip().is_unspecified() {
            return Err(format!(
                "listening on {}, the other nodes cannot tell where to reach this one: give \
                 --advertise-url",
                self.listen
            ));
        }
        Ok(format!("http://{}", self.listen))
    }

    /// The embedded default: `./data`, port 8080 on loopback, open signup, $200 promotional.
    pub fn embedded_default() -> Self {
        Self {
            data_dir: "./data".into(),
            postgres_url: None,
            advertise_url: None,
            listen: "127.0.0.1:8080".parse().expect("a valid address"),
            operator_token: None,
            open_signup: true,
            promotional_credit_usd: Nanodollars::from_usd(200),
            session_ttl_hours: 168,
            invitation_ttl_hours: 168,
            price_table: None,
            model_catalog: None,
            auth_failures_per_minute: 30,
            signups_per_minute: 10,
            idempotency_ttl_hours: 24,
            sweep_interval_seconds: 3600,
            smtp_url: None,
            smtp_from: "Steward <steward@localhost>".into(),
            smtp_max_attempts: 8,
            public_url: None,
            trusted_proxies: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ServeSettings;

    #[test]
    fn a_node_is_advertised_at_its_listen_address_or_where_it_is_told() {
        let mut settings = ServeSettings::embedded_default();
        assert_eq!(settings.advertise_url().unwrap(), "http://127.0.0.1:8080");
        settings.listen = "0.0.0.0:8080".parse().unwrap();
        let refused = settings.advertise_url().unwrap_err();
        assert!(refused.contains("give --advertise-url"), "{refused}");
        settings.advertise_url = Some("http://10.0.0.11:8080/".into());
        assert_eq!(settings.advertise_url().unwrap(), "http://10.0.0.11:8080");
        for wrong in ["10.0.0.11:8080", "ftp://10.0.0.11", "not a url"] {
            settings.advertise_url = Some(wrong.into());
            let refused = settings.advertise_url().unwrap_err();
            assert!(refused.starts_with("--advertise-url"), "{wrong}: {refused}");
        }
    }
}
