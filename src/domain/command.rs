//! `Command`: what an actor asks Steward to do, in the imperative, with every value parsed.
//!
//! Randomness (ids, secrets, tokens) is drawn before a command is built and passed in, already
//! hashed where it is secret, so that `decide` stays pure.

use super::values::{CompanyName, KeyComment, ModelName, PersonName, ProjectName, Reference};
use steward_events::{
    AccountId, CreditSource, Deployment, Email, Endpoint, FeatureSet, GrantId, KeyId, ModelId,
    Nanodollars, ProjectId, RequestId, RequestMethod, Role, Scope, Sha256Digest, Tag, Timestamp,
    TransferId, UsageUnits,
};

/// How much a transfer moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferAmount {
    /// This much, taken in the order it would be spent.
    Amount(Nanodollars),
    /// All that is left of one balance.
    WholeGrant(GrantId),
    /// This much of one balance.
    PartOfGrant(GrantId, Nanodollars),
}

/// One request the paid API served, as its front end reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageReport {
    pub request_id: RequestId,
    /// The request's own tags; the key's tags are added by `decide`.
    pub tags: Vec<Tag>,
    pub endpoint: Endpoint,
    pub method: RequestMethod,
    pub model: MeteredModel,
    pub deployment: Deployment,
    pub units: UsageUnits,
    pub status_code: u16,
    /// The price of the units; a failed request (status ≥ 400) costs nothing whatever this is.
    pub cost: Nanodollars,
    pub features: FeatureSet,
}

/// The catalog's model a metered request used, as the edge looked it up (the catalog is
/// configuration, like the price table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeteredModel {
    /// Its canonical name, as the request named it.
    pub name: ModelName,
    pub id: ModelId,
    /// Every project may use it unless the operator revoked it there.
    pub public: bool,
}

/// A model of the default catalog, by canonical name.
#[cfg(test)]
impl From<&str> for MeteredModel {
    fn from(name: &str) -> Self {
        static CATALOG: std::sync::OnceLock<crate::models::ModelCatalog> =
            std::sync::OnceLock::new();
        (CATALOG.get_or_init(Default::default))
            .metered(name)
            .expect("a model of the default catalog")
    }
}

/// What a tag's requests may cost each UTC month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagBudget {
    pub monthly: Nanodollars,
    /// Refuse the request that would pass it (else record it, and that it passed).
    pub hard: bool,
}

/// An account to register, with its first project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub account_id: AccountId,
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub password_hash: Option<String>,
    pub project_id: ProjectId,
    pub project_name: ProjectName,
    pub promotional_credit: Option<(GrantId, Nanodollars)>,
}

/// A key to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewKey {
    pub project_id: ProjectId,
    pub key_id: KeyId,
    pub secret_hash: Sha256Digest,
    pub comment: KeyComment,
    pub scopes: Vec<Scope>,
    pub tags: Vec<Tag>,
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Signup: the account, its first project (owned by it), and promotional credit if any,
    /// expiring one year later.
    RegisterAccount(Registration),
    /// By the account itself or the operator. Its memberships end and its keys die.
    DeleteAccount {
        account_id: AccountId,
    },
    CreateProject {
        project_id: ProjectId,
        name: ProjectName,
    },
    UpdateProject {
        project_id: ProjectId,
        name: Option<ProjectName>,
        company: Option<CompanyName>,
    },
    DeleteProject {
        project_id: ProjectId,
    },
    InviteMember {
        project_id: ProjectId,
        email: Email,
        role: Role,
        token_hash: Sha256Digest,
        expires_at: Timestamp,
    },
    ResendInvitation {
        project_id: ProjectId,
        email: Email,
        token_hash: Sha256Digest,
        expires_at: Timestamp,
    },
    RevokeInvitation {
        project_id: ProjectId,
        email: Email,
    },
    AcceptInvitation {
        token_hash: Sha256Digest,
    },
    ChangeRole {
        project_id: ProjectId,
        account_id: AccountId,
        role: Role,
    },
    /// Removes the member; with `reassign_keys_to`, hands every key acting as them to that
    /// member first, in the same append.
    RemoveMember {
        project_id: ProjectId,
        account_id: AccountId,
        reassign_keys_to: Option<AccountId>,
    },
    LeaveProject {
        project_id: ProjectId,
    },
    CreateKey(NewKey),
    DeleteKey {
        project_id: ProjectId,
        key_id: KeyId,
    },
    /// The key keeps its id and secret and acts as `to` from now on.
    HandOverKey {
        project_id: ProjectId,
        key_id: KeyId,
        to: AccountId,
    },
    /// A new secret (drawn and hashed by the edge); the previous one works for
    /// `overlap_seconds` more.
    RotateKey {
        project_id: ProjectId,
        key_id: KeyId,
        secret_hash: Sha256Digest,
        overlap_seconds: i64,
    },
    /// `None` removes the tag's budget.
    SetTagBudget {
        project_id: ProjectId,
        tag: Tag,
        budget: Option<TagBudget>,
    },
    GrantCredits {
        project_id: ProjectId,
        grant_id: GrantId,
        source: CreditSource,
        amount: Nanodollars,
        expires_at: Option<Timestamp>,
        reference: Option<Reference>,
    },
    TransferCredits {
        transfer_id: TransferId,
        from_project_id: ProjectId,
        to_project_id: ProjectId,
        amount: TransferAmount,
    },
    RecordUsage {
        project_id: ProjectId,
        report: UsageReport,
    },
    /// The sweeper: records `CreditsExpired` for every grant past its expiry with credit left.
    ExpireCredits,
    /// The operator lets the project use a model (`allowed`) or takes it away. The edge checks
    /// the model is in the catalog and says whether it is public.
    SetModelAccess {
        project_id: ProjectId,
        model_id: ModelId,
        public: bool,
        allowed: bool,
    },
}

impl Command {
    /// The command's name, as the code spells it (the name of its span in exported traces).
    pub fn name(&self) -> &'static str {
        match self {
            Self::RegisterAccount(_) => "RegisterAccount",
            Self::DeleteAccount { .. } => "DeleteAccount",
            Self::CreateProject { .. } => "CreateProject",
            Self::UpdateProject { .. } => "UpdateProject",
            Self::DeleteProject { .. } => "DeleteProject",
            Self::InviteMember { .. } => "InviteMember",
            Self::ResendInvitation { .. } => "ResendInvitation",
            Self::RevokeInvitation { .. } => "RevokeInvitation",
            Self::AcceptInvitation { .. } => "AcceptInvitation",
            Self::ChangeRole { .. } => "ChangeRole",
            Self::RemoveMember { .. } => "RemoveMember",
            Self::LeaveProject { .. } => "LeaveProject",
            Self::CreateKey(_) => "CreateKey",
            Self::DeleteKey { .. } => "DeleteKey",
            Self::HandOverKey { .. } => "HandOverKey",
            Self::RotateKey { .. } => "RotateKey",
            Self::SetTagBudget { .. } => "SetTagBudget",
            Self::GrantCredits { .. } => "GrantCredits",
            Self::TransferCredits { .. } => "TransferCredits",
            Self::RecordUsage { .. } => "RecordUsage",
            Self::ExpireCredits => "ExpireCredits",
            Self::SetModelAccess { .. } => "SetModelAccess",
        }
    }
}
