//! The event catalog: every fact Steward records, in the past tense, with named fields.
//!
//! The stored shape of every variant is frozen (see `tests/golden.rs`). To change one, add a new
//! variant or a new schema version with an upcaster in `codec.rs`; never edit a field here.

use crate::{
    access::{Role, Scope},
    features::Feature,
    ids::{AccountId, GrantId, KeyId, ModelId, ProjectId, RequestId, TransferId},
    money::Nanodollars,
    time::Timestamp,
    values::{Email, Sha256Digest, Tag},
};
use serde::{Deserialize, Serialize};

/// Where a grant of credit came from; it fixes the grant's expiry rule.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditSource {
    /// Given at signup; expires one year after it.
    Promotional,
    /// An enterprise contract; expires at the contract's end.
    Contract,
    /// Bought with a card; never expires.
    Card,
}

impl CreditSource {
    pub const ALL: [CreditSource; 3] = [
        CreditSource::Promotional,
        CreditSource::Contract,
        CreditSource::Card,
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.name() == name)
    }

    pub const fn name(self) -> &'static str {
        match self {
            CreditSource::Promotional => "promotional",
            CreditSource::Contract => "contract",
            CreditSource::Card => "card",
        }
    }
}

/// Why a member left a project other than by their own choice.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// Another member with the right to kick removed them.
    Kicked,
    /// Their account was deleted.
    AccountDeleted,
}

/// The paid API a request used.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Listen,
    Read,
    Speak,
    Agent,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Listen,
        Endpoint::Read,
        Endpoint::Speak,
        Endpoint::Agent,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Endpoint::Listen => "listen",
            Endpoint::Read => "read",
            Endpoint::Speak => "speak",
            Endpoint::Agent => "agent",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.name() == name)
    }
}

/// How a request was served.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestMethod {
    Sync,
    Async,
    Streaming,
}

impl RequestMethod {
    pub const ALL: [RequestMethod; 3] = [
        RequestMethod::Sync,
        RequestMethod::Async,
        RequestMethod::Streaming,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            RequestMethod::Sync => "sync",
            RequestMethod::Async => "async",
            RequestMethod::Streaming => "streaming",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.name() == name)
    }
}

/// Where a request was served.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Deployment {
    Hosted,
    Beta,
    SelfHosted,
}

impl Deployment {
    pub const ALL: [Deployment; 3] = [Deployment::Hosted, Deployment::Beta, Deployment::SelfHosted];

    pub const fn name(self) -> &'static str {
        match self {
            Deployment::Hosted => "hosted",
            Deployment::Beta => "beta",
            Deployment::SelfHosted => "self-hosted",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.name() == name)
    }
}

/// What a request used, in each of the units the paid API is priced by.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UsageUnits {
    pub audio_milliseconds: u64,
    pub characters: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
}

/// One part of a transfer: an amount taken from one grant, arriving as a new grant that keeps
/// the original's source and expiry.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TransferPortion {
    pub from_grant_id: GrantId,
    pub to_grant_id: GrantId,
    pub source: CreditSource,
    pub amount: Nanodollars,
    pub expires_at: Option<Timestamp>,
    /// What is left of `from_grant_id` after this portion left it.
    pub from_grant_remaining: Nanodollars,
}

/// One part of a charge: an amount taken from one grant.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ConsumedPortion {
    pub grant_id: GrantId,
    pub amount: Nanodollars,
    /// What is left of the grant after this portion was taken.
    pub remaining: Nanodollars,
}

/// Every fact Steward records. Variants are only ever added at the end.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Stream `account/{account_id}`.
    AccountRegistered {
        account_id: AccountId,
        email: Email,
        first_name: String,
        last_name: String,
        /// An argon2id PHC string; `None` for an account created by the operator without one.
        password_hash: Option<String>,
    },
    /// Stream `account/{account_id}`. Its keys stop working everywhere.
    AccountDeleted {
        account_id: AccountId,
    },
    /// Stream `project/{project_id}`.
    ProjectCreated {
        project_id: ProjectId,
        name: String,
        created_by: AccountId,
    },
    ProjectRenamed {
        project_id: ProjectId,
        name: String,
    },
    ProjectCompanyChanged {
        project_id: ProjectId,
        company: String,
    },
    ProjectDeleted {
        project_id: ProjectId,
    },
    MemberInvited {
        project_id: ProjectId,
        email: Email,
        role: Role,
        invited_by: AccountId,
        token_hash: Sha256Digest,
        expires_at: Timestamp,
    },
    /// A new token replaces the old one, which stops working.
    InvitationResent {
        project_id: ProjectId,
        email: Email,
        token_hash: Sha256Digest,
        expires_at: Timestamp,
    },
    InvitationRevoked {
        project_id: ProjectId,
        email: Email,
    },
    InvitationAccepted {
        project_id: ProjectId,
        email: Email,
        account_id: AccountId,
    },
    MemberJoined {
        project_id: ProjectId,
        account_id: AccountId,
        role: Role,
    },
    RoleChanged {
        project_id: ProjectId,
        account_id: AccountId,
        from: Role,
        to: Role,
    },
    /// The member's keys in this project stop working.
    MemberRemoved {
        project_id: ProjectId,
        account_id: AccountId,
        reason: RemovalReason,
    },
    /// The member's keys in this project stop working.
    MemberLeft {
        project_id: ProjectId,
        account_id: AccountId,
    },
    ApiKeyCreated {
        project_id: ProjectId,
        key_id: KeyId,
        created_by: AccountId,
        comment: String,
        scopes: Vec<Scope>,
        tags: Vec<Tag>,
        expires_at: Option<Timestamp>,
        secret_hash: Sha256Digest,
    },
    ApiKeyDeleted {
        project_id: ProjectId,
        key_id: KeyId,
    },
    CreditsGranted {
        project_id: ProjectId,
        grant_id: GrantId,
        source: CreditSource,
        amount: Nanodollars,
        expires_at: Option<Timestamp>,
        reference: Option<String>,
    },
    /// Stream of the source project; its twin `CreditsTransferredIn` is appended atomically.
    CreditsTransferredOut {
        transfer_id: TransferId,
        from_project_id: ProjectId,
        to_project_id: ProjectId,
        portions: Vec<TransferPortion>,
    },
    /// Stream of the receiving project.
    CreditsTransferredIn {
        transfer_id: TransferId,
        from_project_id: ProjectId,
        to_project_id: ProjectId,
        portions: Vec<TransferPortion>,
    },
    CreditsConsumed {
        project_id: ProjectId,
        request_id: RequestId,
        portions: Vec<ConsumedPortion>,
    },
    /// Recorded once per grant, when its expiry has passed with credit left.
    CreditsExpired {
        project_id: ProjectId,
        grant_id: GrantId,
        amount: Nanodollars,
    },
    UsageRecorded {
        project_id: ProjectId,
        request_id: RequestId,
        key_id: KeyId,
        /// The key's tags followed by the request's own, without repeats.
        tags: Vec<Tag>,
        endpoint: Endpoint,
        method: RequestMethod,
        model: String,
        deployment: Deployment,
        units: UsageUnits,
        cost: Nanodollars,
        status_code: u16,
        /// The features the request used, in `Feature` order, without repeats (since schema
        /// version 2; a version 1 record reads as none).
        features: Vec<Feature>,
    },
    /// The operator let the project use a model of the catalog (a private one, or a public
    /// one revoked before).
    ModelAccessGranted {
        project_id: ProjectId,
        model_id: ModelId,
    },
    /// The operator took a model away from the project: metering it is refused.
    ModelAccessRevoked {
        project_id: ProjectId,
        model_id: ModelId,
    },
    /// The key was handed over: it keeps its id and secret, now acts as `to` (its scopes capped
    /// by `to`'s role), and ends with `to`'s membership instead of `from`'s (since schema
    /// version 3).
    ApiKeyOwnerChanged {
        project_id: ProjectId,
        key_id: KeyId,
        from: AccountId,
        to: AccountId,
    },
    /// The key has a new secret; the one it replaced keeps working until
    /// `previous_secret_expires_at`, then never again. A secret replaced before stops now.
    ApiKeyRotated {
        project_id: ProjectId,
        key_id: KeyId,
        secret_hash: Sha256Digest,
        previous_secret_expires_at: Timestamp,
    },
    /// What the requests carrying `tag` may cost the project each UTC month; a `hard` budget
    /// refuses the request that would pass it, a soft one only records that it was passed.
    TagBudgetSet {
        project_id: ProjectId,
        tag: Tag,
        monthly: Nanodollars,
        hard: bool,
    },
    TagBudgetRemoved {
        project_id: ProjectId,
        tag: Tag,
    },
    /// A soft budget was passed, recorded with the request that passed it, once per tag and
    /// month (`month_start`, UTC).
    TagBudgetPassed {
        project_id: ProjectId,
        tag: Tag,
        month_start: Timestamp,
        monthly: Nanodollars,
        /// The tag's spend in the month with that request.
        spent: Nanodollars,
    },
}

impl Event {
    /// Every variant's name, as `kind` gives it.
    pub const KINDS: &'static [&'static str] = &[
        "account_registered",
        "account_deleted",
        "project_created",
        "project_renamed",
        "project_company_changed",
        "project_deleted",
        "member_invited",
        "invitation_resent",
        "invitation_revoked",
        "invitation_accepted",
        "member_joined",
        "role_changed",
        "member_removed",
        "member_left",
        "api_key_created",
        "api_key_deleted",
        "credits_granted",
        "credits_transferred_out",
        "credits_transferred_in",
        "credits_consumed",
        "credits_expired",
        "usage_recorded",
        "model_access_granted",
        "model_access_revoked",
        "api_key_owner_changed",
        "api_key_rotated",
        "tag_budget_set",
        "tag_budget_removed",
        "tag_budget_passed",
    ];

    /// The variant's snake-case name, used by audit filters and exports.
    pub const fn kind(&self) -> &'static str {
        match self {
            Event::AccountRegistered { .. } => "account_registered",
            Event::AccountDeleted { .. } => "account_deleted",
            Event::ProjectCreated { .. } => "project_created",
            Event::ProjectRenamed { .. } => "project_renamed",
            Event::ProjectCompanyChanged { .. } => "project_company_changed",
            Event::ProjectDeleted { .. } => "project_deleted",
            Event::MemberInvited { .. } => "member_invited",
            Event::InvitationResent { .. } => "invitation_resent",
            Event::InvitationRevoked { .. } => "invitation_revoked",
            Event::InvitationAccepted { .. } => "invitation_accepted",
            Event::MemberJoined { .. } => "member_joined",
            Event::RoleChanged { .. } => "role_changed",
            Event::MemberRemoved { .. } => "member_removed",
            Event::MemberLeft { .. } => "member_left",
            Event::ApiKeyCreated { .. } => "api_key_created",
            Event::ApiKeyDeleted { .. } => "api_key_deleted",
            Event::CreditsGranted { .. } => "credits_granted",
            Event::CreditsTransferredOut { .. } => "credits_transferred_out",
            Event::CreditsTransferredIn { .. } => "credits_transferred_in",
            Event::CreditsConsumed { .. } => "credits_consumed",
            Event::CreditsExpired { .. } => "credits_expired",
            Event::UsageRecorded { .. } => "usage_recorded",
            Event::ModelAccessGranted { .. } => "model_access_granted",
            Event::ModelAccessRevoked { .. } => "model_access_revoked",
            Event::ApiKeyOwnerChanged { .. } => "api_key_owner_changed",
            Event::ApiKeyRotated { .. } => "api_key_rotated",
            Event::TagBudgetSet { .. } => "tag_budget_set",
            Event::TagBudgetRemoved { .. } => "tag_budget_removed",
            Event::TagBudgetPassed { .. } => "tag_budget_passed",
        }
    }

    /// The projects the event concerns: its own, and for a transfer both sides.
    pub fn project_ids(&self) -> impl Iterator<Item = ProjectId> {
        let other_side = match self {
            Event::CreditsTransferredOut { to_project_id, .. } => Some(*to_project_id),
            Event::CreditsTransferredIn {
                from_project_id, ..
            } => Some(*from_project_id),
            _ => None,
        };
        self.project_id().into_iter().chain(other_side)
    }

    /// The project the event is about, if any. A transfer is about both; this names the stream's.
    pub const fn project_id(&self) -> Option<ProjectId> {
        match self {
            Event::AccountRegistered { .. } | Event::AccountDeleted { .. } => None,
            Event::ProjectCreated { project_id, .. }
            | Event::ProjectRenamed { project_id, .. }
            | Event::ProjectCompanyChanged { project_id, .. }
            | Event::ProjectDeleted { project_id }
            | Event::MemberInvited { project_id, .. }
            | Event::InvitationResent { project_id, .. }
            | Event::InvitationRevoked { project_id, .. }
            | Event::InvitationAccepted { project_id, .. }
            | Event::MemberJoined { project_id, .. }
            | Event::RoleChanged { project_id, .. }
            | Event::MemberRemoved { project_id, .. }
            | Event::MemberLeft { project_id, .. }
            | Event::ApiKeyCreated { project_id, .. }
            | Event::ApiKeyDeleted { project_id, .. }
            | Event::CreditsGranted { project_id, .. }
            | Event::CreditsConsumed { project_id, .. }
            | Event::CreditsExpired { project_id, .. }
            | Event::UsageRecorded { project_id, .. }
            | Event::ModelAccessGranted { project_id, .. }
            | Event::ModelAccessRevoked { project_id, .. }
            | Event::ApiKeyOwnerChanged { project_id, .. }
            | Event::ApiKeyRotated { project_id, .. }
            | Event::TagBudgetSet { project_id, .. }
            | Event::TagBudgetRemoved { project_id, .. }
            | Event::TagBudgetPassed { project_id, .. } => Some(*project_id),
            Event::CreditsTransferredOut {
                from_project_id, ..
            } => Some(*from_project_id),
            Event::CreditsTransferredIn { to_project_id, .. } => Some(*to_project_id),
        }
    }
}
