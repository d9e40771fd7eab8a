//! Steward's read models. Each is built only from events, by a pure `apply`: no clock, no I/O,
//! no randomness, so rebuilding from position 0 always gives the same state.
#![forbid(unsafe_code)]

pub mod audit;
pub mod budgets;
pub mod credits;
pub mod keys;
pub mod membership;
pub mod models;
pub mod usage;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use steward_events::{Envelope, EventLog, LogError};

/// A read model fed by log position.
pub trait Projection: Serialize {
    /// A stable name, printed by `steward rebuild` and used for checkpoints.
    const NAME: &'static str;

    /// Applies one event. Called once per position, in order.
    fn apply(&mut self, envelope: &Envelope);

    /// SHA-256 of the projection's canonical JSON (ordered maps only), hex.
    fn digest(&self) -> String {
        let json = serde_json::to_vec(self).expect("projections serialize to JSON");
        hex::encode(Sha256::digest(json))
    }
}

/// One line of `steward rebuild`: a projection's name, the position it reflects, its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectionSummary {
    pub name: &'static str,
    pub position: u64,
    pub digest: String,
}

/// Serde for a field kept in binary checkpoints but left out of JSON (snapshots, digests,
/// exports): JSON shows the type's default instead.
pub(crate) mod binary_only {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T, S>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Serialize + Default,
        S: Serializer,
    {
        if serializer.is_human_readable() {
            T::default().serialize(serializer)
        } else {
            value.serialize(serializer)
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        T::deserialize(deserializer)
    }
}

/// Every read model, fed together so they always reflect the same log position.
#[derive(Default, Serialize, Deserialize)]
pub struct Projections {
    position: u64,
    pub membership: membership::Membership,
    pub keys: keys::Keys,
    pub credits: credits::Credits,
    pub usage: usage::Usage,
    pub audit: audit::Audit,
    pub model_access: models::ModelAccess,
    pub tag_budgets: budgets::TagBudgets,
}

impl Projections {
    /// Every read model's name, in the order each envelope is applied to them.
    pub const NAMES: [&'static str; 7] = [
        membership::Membership::NAME,
        keys::Keys::NAME,
        credits::Credits::NAME,
        usage::Usage::NAME,
        audit::Audit::NAME,
        models::ModelAccess::NAME,
        budgets::TagBudgets::NAME,
    ];

    /// The last log position applied.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Applies an envelope, skipping one already applied. A gap is a bug: the feed must be the
    /// log in order.
    pub fn apply(&mut self, envelope: &Envelope) {
        if envelope.position <= self.position {
            return;
        }
        assert_eq!(
            envelope.position,
            self.position + 1,
            "projections must be fed the log without gaps"
        );
        self.membership.apply(envelope);
        self.keys.apply(envelope);
        self.credits.apply(envelope);
        self.usage.apply(envelope);
        self.audit.apply(envelope);
        self.model_access.apply(envelope);
        self.tag_budgets.apply(envelope);
        self.position = envelope.position;
    }

    /// Rebuilds what each projection derives and does not keep, after a checkpoint is loaded.
    pub fn restore(&mut self) {
        self.membership.restore();
        self.keys.restore();
    }

    /// Replays the whole log from position 1.
    pub fn rebuild(log: &dyn EventLog) -> Result<Self, LogError> {
        let mut projections = Self::default();
        projections.catch_up(log)?;
        Ok(projections)
    }

    /// Applies whatever the log holds beyond the current position.
    pub fn catch_up(&mut self, log: &dyn EventLog) -> Result<(), LogError> {
        self.catch_up_observed(log, |_| {})
    }

    /// `catch_up`, telling `applied` each position once applied.
    pub fn catch_up_observed(
        &mut self,
        log: &dyn EventLog,
        mut applied: impl FnMut(u64),
    ) -> Result<(), LogError> {
        for envelope in log.read_from(self.position + 1) {
            let envelope = envelope?;
            self.apply(&envelope);
            applied(envelope.position);
        }
        Ok(())
    }

    /// Name, position and digest of every projection, in a fixed order.
    pub fn summaries(&self) -> Vec<ProjectionSummary> {
        fn summary<P: Projection>(projection: &P, position: u64) -> ProjectionSummary {
            ProjectionSummary {
                name: P::NAME,
                position,
                digest: projection.digest(),
            }
        }
        vec![
            summary(&self.membership, self.position),
            summary(&self.keys, self.position),
            summary(&self.credits, self.position),
            summary(&self.usage, self.position),
            summary(&self.audit, self.position),
            summary(&self.model_access, self.position),
            summary(&self.tag_budgets, self.position),
        ]
    }
}
