//! Mail delivery: a worker that sends each pending outbox message over SMTP (lettre), retries
//! with capped exponential backoff, and records the outcome in the message.
//!
//! At least once: a message is in the outbox as soon as its invitation is (same group commit),
//! and stays pending until the SMTP server accepted it and that outcome is durable, so a crash
//! in between sends it again after the restart. Before each attempt the worker checks that the
//! invitation is still pending with the message's token: a message revoked, accepted or
//! superseded by a resend is cancelled instead of sent. A permanent refusal (5xx) fails the
//! message at once; anything else (4xx, a connection that fails) is tried again, up to the
//! configured attempts.

use crate::{
    outbox::{DeliveryState, Outbox, OutboxMessage},
    secrets::hash_secret,
    Steward,
};
use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    transport::smtp::Error as SmtpError,
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use std::{sync::Arc, time::Duration};
use steward_events::Timestamp;

/// The first retry waits this long; each next one twice as long, up to `BACKOFF_MAX`.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(2);
/// The longest wait between two attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// How often the worker looks for due messages when nothing wakes it.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Where and as whom mail is sent.
#[derive(Clone)]
pub struct SmtpSettings {
    pub transport: AsyncSmtpTransport<Tokio1Executor>,
    pub from: Mailbox,
    /// Attempts per message before it is marked failed.
    pub max_attempts: u32,
}

impl SmtpSettings {
    /// The settings of `--smtp-url` (`smtp://host:port`, `smtp://…?tls=required` for STARTTLS,
    /// `smtps://…` for implicit TLS, with optional `user:password@`) and `--smtp-from`.
    pub fn parse(url: &str, from: &str, max_attempts: u32) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|error| format!("--smtp-url {:?}: {error}", redacted(url)))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|error| format!("--smtp-from {from:?}: {error}"))?;
        if max_attempts == 0 {
            return Err("--smtp-max-attempts must be at least 1".into());
        }
        Ok(Self {
            transport,
            from,
            max_attempts,
        })
    }
}

/// `url` without its credentials, for messages (also when it does not parse).
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// How long to wait after the `attempts`-th failed attempt.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    BACKOFF_FIRST
        .saturating_mul(1 << doublings)
        .min(BACKOFF_MAX)
}

/// The email of `message` from `from`.
pub fn email_of(message: &OutboxMessage, from: &Mailbox) -> Result<Message, String> {
    let to = message
        .to
        .parse::<Mailbox>()
        .map_err(|error| format!("the address {:?}: {error}", message.to))?;
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(message.body.clone());
    let html = SinglePart::builder()
        .header(ContentType::TEXT_HTML)
        .body(message.html.clone());
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject.clone())
        .multipart(MultiPart::alternative().singlepart(text).singlepart(html))
        .map_err(|error| error.to_string())
}

/// The mail worker: wakes when a message is written (`Outbox::wake`) or every second, and
/// sends what is due.
pub struct Mailer {
    pub steward: Arc<Steward>,
    pub outbox: Arc<Outbox>,
    pub smtp: SmtpSettings,
}

impl Mailer {
    /// Runs until the task is aborted.
    pub async fn run(self) {
        loop {
            // In a cluster the writer sends: it alone writes how a delivery went.
            if self.steward.is_writer() {
                if let Err(error) = self.round().await {
                    tracing::error!(%error, "the mail worker could not read the outbox");
                }
            }
            tokio::select! {
                _ = self.outbox.woken() => {}
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    }

    /// Sends every message due now; answers how many it attempted.
    pub async fn round(&self) -> Result<usize, crate::processor::CommandError> {
        let now = self.steward.now();
        let due = self.outbox.due(now).await?;
        let count = due.len();
        for message in due {
            let message = self.attempt(message, now).await;
            self.outbox.update(&message).await?;
        }
        Ok(count)
    }

    /// One attempt at `message`: the message as it stands after it.
    async fn attempt(&self, mut message: OutboxMessage, now: Timestamp) -> OutboxMessage {
        if let Some(reason) = self.superseded(&message, now) {
            message.delivery.state = DeliveryState::Cancelled;
            message.delivery.last_error = Some(reason.to_owned());
            message.delivery.next_attempt_at = None;
            return message;
        }
        message.delivery.attempts += 1;
        let outcome = match email_of(&message, &self.smtp.from) {
            Ok(email) => self.smtp.transport.send(email).await.map_err(Failure::Smtp),
            Err(reason) => Err(Failure::Unsendable(reason)),
        };
        let delivery = &mut message.delivery;
        match outcome {
            Ok(response) => {
                delivery.state = DeliveryState::Sent;
                delivery.sent_at = Some(now);
                delivery.next_attempt_at = None;
                delivery.last_error = None;
                let answer: Vec<&str> = response.message().collect();
                delivery.server_answer = Some(format!("{} {}", response.code(), answer.join(" ")));
                tracing::info!(message_id = %message.message_id, "invitation email sent");
            }
            Err(failure) => {
                let permanent = failure.is_permanent();
                delivery.last_error = Some(failure.to_string());
                if permanent || delivery.attempts >= self.smtp.max_attempts {
                    delivery.state = DeliveryState::Failed;
                    delivery.next_attempt_at = None;
                } else {
                    let wait = backoff(delivery.attempts);
                    delivery.next_attempt_at = Some(now.plus_seconds(wait.as_secs() as i64));
                }
                tracing::warn!(
                    message_id = %message.message_id,
                    attempts = message.delivery.attempts,
                    error = %failure,
                    "an invitation email was not sent"
                );
            }
        }
        message
    }

    /// Why `message` must not be sent any more, if so: its invitation is no longer pending
    /// with the message's token.
    fn superseded(&self, message: &OutboxMessage, now: Timestamp) -> Option<&'static str> {
        let (Some(project_id), Some(email)) = (message.project_id, message.recipient()) else {
            return None;
        };
        let token_hash = hash_secret(&message.token);
        let current = self.steward.read(|projections| {
            let project = projections.membership.project(project_id)?;
            let invitation = project.invitations.get(&email)?;
            Some(invitation.token_hash == Some(token_hash) && invitation.expires_at > now)
        });
        match current {
            Some(true) => None,
            Some(false) => Some("the invitation was sent again with a new token, or expired"),
            None => Some("the invitation is no longer pending (accepted or revoked)"),
        }
    }
}

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Smtp(SmtpError),
    /// The message cannot become an email (an address lettre refuses): never retried.
    #[error("{0}")]
    Unsendable(String),
}

impl Failure {
    fn is_permanent(&self) -> bool {
        match self {
            Failure::Smtp(error) => error.is_permanent(),
            Failure::Unsendable(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Delivery;
    use uuid::Uuid;

    #[test]
    fn backoff_doubles_from_two_seconds_up_to_five_minutes() {
        let waits: Vec<u64> = (1..=10).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }

    /// (The transport's connection pool needs a runtime to be built in.)
    #[tokio::test]
    async fn a_malformed_smtp_url_or_sender_is_refused_with_the_setting_named() {
        for url in ["smtp//nowhere", "ftp://mail.example", "smtp://"] {
            let error = SmtpSettings::parse(url, "steward@fruit.example", 5).err();
            assert!(
                error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("--smtp-url")),
                "{url}: {error:?}"
            );
        }
        let error = SmtpSettings::parse("smtp://user:secret@mail.example:25", "not an address", 5)
            .err()
            .unwrap();
        assert!(error.starts_with("--smtp-from"), "{error}");
        let error = SmtpSettings::parse("smtp://user:secret@[::", "a@b.example", 5)
            .err()
            .unwrap();
        assert!(!error.contains("secret"), "{error}");
        assert_eq!(
            redacted("smtps://u:p@mail.example:465?x=1"),
            "smtps://***@mail.example:465?x=1"
        );
        assert_eq!(redacted("smtp://mail.example"), "smtp://mail.example");
        assert!(SmtpSettings::parse(
            "smtp://127.0.0.1:2525",
            "Steward <steward@fruit.example>",
            5
        )
        .is_ok());
        assert!(SmtpSettings::parse("smtps://mail.example", "steward@fruit.example", 5).is_ok());
        assert!(SmtpSettings::parse("smtp://mail.example?tls=required", "a@b.example", 5).is_ok());
    }

    #[test]
    fn an_email_has_a_plain_text_and_an_html_part() {
        let message = OutboxMessage {
            message_id: Uuid::now_v7(),
            to: "mia@fruit.example".into(),
            subject: "Olive invited you to join Fruit Company on Steward".into(),
            body: "plain words".into(),
            html: "<p>html words</p>".into(),
            token: "stw_inv_1".into(),
            created: Timestamp::from_unix_micros(0),
            project_id: None,
            expires_at: None,
            delivery: Delivery::default(),
        };
        let from: Mailbox = "Steward <steward@fruit.example>".parse().unwrap();
        let formatted = String::from_utf8(email_of(&message, &from).unwrap().formatted()).unwrap();
        assert!(formatted.contains("To: mia@fruit.example"), "{formatted}");
        assert!(formatted.contains("multipart/alternative"));
        assert!(formatted.contains("text/plain") && formatted.contains("text/html"));
        assert!(formatted.contains("plain words") && formatted.contains("<p>html words</p>"));
        let bad = OutboxMessage {
            to: "not an address".into(),
            ..message
        };
        assert!(email_of(&bad, &from).is_err());
    }
}
