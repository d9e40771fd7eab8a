//! `DomainError`: every business rule a command can break.

/// A rule a command broke. Each variant's doc names the HTTP status it becomes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// 404 `PROJECT_NOT_FOUND`; also for a project the actor does not belong to.
    #[error("project not found")]
    ProjectNotFound,
    /// 404.
    #[error("account not found")]
    AccountNotFound,
    /// 404.
    #[error("member not found")]
    MemberNotFound,
    /// 404.
    #[error("api key not found")]
    KeyNotFound,
    /// 404.
    #[error("invitation not found")]
    InvitationNotFound,
    /// 404.
    #[error("balance not found")]
    GrantNotFound,
    /// 404: not in the model catalog.
    #[error("model not found")]
    ModelNotFound,
    /// 401 `INVALID_AUTH`: the acting key is deleted, expired, or its creator is gone.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 403 `INSUFFICIENT_PERMISSIONS`.
    #[error("insufficient permissions")]
    InsufficientPermissions,
    /// 403: only a person (an account session) may do this.
    #[error("only an account may do this")]
    AccountRequired,
    /// 403: a key never holds a permission its creator lacks.
    #[error("cannot grant a scope you do not hold")]
    ScopeBeyondOwn,
    /// 400: a project always keeps at least one owner.
    #[error("a project must keep at least one owner")]
    SoleOwner,
    /// 409.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// 409.
    #[error("already a member of this project")]
    AlreadyMember,
    /// 409.
    #[error("an invitation for this email is already pending")]
    AlreadyInvited,
    /// 409.
    #[error("a project or key with this id already exists")]
    AlreadyExists,
    /// 410.
    #[error("invitation expired")]
    InvitationExpired,
    /// 403: an invitation is accepted only with the address it was sent to.
    #[error("invitation was sent to another email address")]
    InvitationEmailMismatch,
    /// 403 `INSUFFICIENT_PERMISSIONS`: the operator has not let the project use the model.
    #[error("project does not have access to the requested model")]
    ModelNotAllowed,
    /// 402 `ASR_PAYMENT_REQUIRED`.
    #[error("insufficient credit")]
    InsufficientCredit,
    /// 402 `ASR_PAYMENT_REQUIRED`: the request would take the tag's spend this month past its
    /// hard budget.
    #[error("the tag \"{0}\" has reached its monthly budget; nothing was recorded")]
    TagBudgetExceeded(steward_events::Tag),
    /// 404.
    #[error("the tag has no budget")]
    BudgetNotFound,
    /// 409: `BUDGETS_PER_PROJECT_MAX`.
    #[error("the project has the most tag budgets it may (1000); remove one first")]
    TooManyBudgets,
    /// 409: `TAGS_PER_PROJECT_MONTH_MAX`. Only a request carrying a tag new this month is
    /// refused; one whose tags were all used this month is recorded as ever.
    #[error(
        "the project's requests have carried the most distinct tags a month may ({max}); \
         until the UTC month ends, a request may carry only tags already used this month; \
         nothing was recorded",
        max = crate::limits::TAGS_PER_PROJECT_MONTH_MAX
    )]
    TooManyTagsThisMonth,
    /// 400.
    #[error("a monthly budget is 0 to 1000000000 USD")]
    InvalidBudget,
    /// 400: the overlap is 0 to 7 days (`ROTATION_OVERLAP_SECONDS_MAX`).
    #[error("overlap_seconds must be 0 to 604800 (7 days)")]
    InvalidOverlap,
    /// 400: keys are handed to another member of the project.
    #[error("keys are handed over to another member, not to the member removed")]
    InvalidReassignment,
    /// 403 `INSUFFICIENT_PERMISSIONS`: a person's transfer moves contract and card credit only.
    #[error("only support can move promotional credit; contact support to move it")]
    PromotionalCreditBySupportOnly,
    /// 409: the request id was already recorded (the processor asks the log, see `Known`).
    #[error("request already recorded")]
    DuplicateRequest,
    /// 400.
    #[error("amount must be positive and at most the limit")]
    InvalidAmount,
    /// 409: `KEYS_PER_PROJECT_MAX`.
    #[error("the project holds the most keys it may (10000); delete one first")]
    TooManyKeys,
    /// 409: `INVITATIONS_PER_PROJECT_MAX`.
    #[error("the project has the most pending invitations it may (500); revoke one first")]
    TooManyInvitations,
    /// 409: `MEMBERS_PER_PROJECT_MAX`.
    #[error("the project has the most members it may (1000)")]
    TooManyMembers,
    /// 409: `PROJECTS_PER_ACCOUNT_MAX`.
    #[error("the account belongs to the most projects it may (200); leave one first")]
    TooManyProjects,
    /// 409: `BALANCES_PER_PROJECT_MAX`.
    #[error("the project holds the most balances with credit it may (256); move whole balances or spend some first")]
    TooManyBalances,
    /// 400: `PORTIONS_PER_EVENT_MAX`.
    #[error("this would take credit from more than 256 balances at once; move a smaller amount or whole balances")]
    TooManyPortions,
    /// 400: the command's events would exceed what the log records in one command; nothing
    /// was recorded.
    #[error("this command would record more than one command may")]
    CommandTooLarge,
    /// 400.
    #[error("source and destination project are the same")]
    SameProject,
    /// 400.
    #[error("expiry must be in the future")]
    ExpiryInPast,
    /// 400.
    #[error("contract credit needs an end date; card credit never expires")]
    InvalidExpiry,
    /// 400.
    #[error("name must be 1 to 100 characters")]
    InvalidName,
    /// 400.
    #[error("comment must be at most 256 characters")]
    InvalidComment,
    /// 400.
    #[error("scopes must name 1 to 64 roles or permissions")]
    InvalidScopes,
    /// 400.
    #[error("too many tags")]
    TooManyTags,
    /// 400.
    #[error("model must be 1 to 128 characters")]
    InvalidModel,
    /// 400.
    #[error("reference must be at most 256 characters")]
    InvalidReference,
}

impl DomainError {
    /// The rule as a sentence for people: capitalized, with a full stop (the API's error
    /// message, and the console's text beside a field).
    pub fn sentence(&self) -> String {
        as_sentence(&self.to_string())
    }
}

/// `text` capitalized, with a full stop; an empty text stays empty.
pub fn as_sentence(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), characters.as_str()),
        None => String::new(),
    }
}
