//! `ApiError`: every refusal as Deepgram's error JSON, `{category, message, details, request_id}`.
//!
//! A handler returns an `ApiError`; the request-id middleware (`super::request_context`) writes
//! the body, so that every error carries the id of the request that caused it.

use crate::{
    access::AccessError, domain::DomainError, metering::MeteringError, passwords::Busy,
    processor::CommandError, reads::ReadError,
};
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use steward_events::LogError;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable category, such as `INVALID_AUTH` or `PROJECT_NOT_FOUND`.
    pub category: &'static str,
    /// A short sentence for people.
    pub message: String,
    /// More about what was wrong with the request, when there is more to say.
    pub details: String,
    /// The request's id, also in the `dg-request-id` header.
    pub request_id: String,
}

/// The categories of the error JSON: Deepgram's where it has one, Steward's own beside them.
/// Each answers with one status, except `InvalidJson`, which is 415 for a body that is not JSON
/// at all (`ApiError::with_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// 401: no, unknown, invalid or expired credentials.
    InvalidAuth,
    /// 403: known credentials lacking a permission.
    InsufficientPermissions,
    /// 404: a project that does not exist or the caller does not belong to.
    ProjectNotFound,
    /// 404: anything else that is not there.
    NotFound,
    /// 400 (or 415): a body that is not the JSON this endpoint takes.
    InvalidJson,
    /// 400.
    InvalidQueryParameter,
    /// 400: an id in the path that cannot be one.
    InvalidPathParameter,
    /// 400: well-formed JSON whose values break a rule.
    InvalidRequest,
    /// 402: the project cannot pay.
    AsrPaymentRequired,
    /// 403: signup is closed on this server.
    SignupClosed,
    /// 405.
    MethodNotAllowed,
    /// 409: a conflict with the current state.
    Conflict,
    /// 409: an `Idempotency-Key` reused with another request, or still in flight.
    IdempotencyConflict,
    /// 410: an invitation past its expiry.
    InvitationExpired,
    /// 413.
    PayloadTooLarge,
    /// 429: too many failed authentications from one address.
    TooManyRequests,
    /// 500.
    InternalServerError,
    /// 503: shutting down.
    ServiceUnavailable,
}

impl Category {
    /// The name on the wire, such as `INVALID_AUTH`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::InvalidAuth => "INVALID_AUTH",
            Self::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            Self::ProjectNotFound => "PROJECT_NOT_FOUND",
            Self::NotFound => "NOT_FOUND",
            Self::InvalidJson => "INVALID_JSON",
            Self::InvalidQueryParameter => "INVALID_QUERY_PARAMETER",
            Self::InvalidPathParameter => "INVALID_PATH_PARAMETER",
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::AsrPaymentRequired => "ASR_PAYMENT_REQUIRED",
            Self::SignupClosed => "SIGNUP_CLOSED",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Conflict => "CONFLICT",
            Self::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            Self::InvitationExpired => "INVITATION_EXPIRED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// The status the category answers with.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::InvalidAuth => StatusCode::UNAUTHORIZED,
            Self::InsufficientPermissions | Self::SignupClosed => StatusCode::FORBIDDEN,
            Self::ProjectNotFound | Self::NotFound => StatusCode::NOT_FOUND,
            Self::InvalidJson
            | Self::InvalidQueryParameter
            | Self::InvalidPathParameter
            | Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::AsrPaymentRequired => StatusCode::PAYMENT_REQUIRED,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict | Self::IdempotencyConflict => StatusCode::CONFLICT,
            Self::InvitationExpired => StatusCode::GONE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An error answer. Internal causes are logged with the request id, never sent.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub category: Category,
    pub message: String,
    pub details: String,
    /// For the server's log only.
    pub internal: Option<String>,
}

/// What an error response carries until the middleware renders it with the request id.
#[derive(Clone, Debug)]
pub struct PendingErrorBody {
    pub category: &'static str,
    pub message: String,
    pub details: String,
    pub internal: Option<String>,
}

impl ApiError {
    pub fn new(category: Category, message: impl Into<String>) -> Self {
        Self {
            status: category.status(),
            category,
            message: message.into(),
            details: String::new(),
            internal: None,
        }
    }

    /// The same error with another status (only `InvalidJson` has two).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// 401 `INVALID_AUTH`: no, unknown, invalid or expired credentials.
    pub fn invalid_auth() -> Self {
        Self::new(Category::InvalidAuth, "Invalid credentials.")
    }

    /// 403 `INSUFFICIENT_PERMISSIONS`: known credentials lacking a permission.
    pub fn insufficient_permissions() -> Self {
        Self::new(
            Category::InsufficientPermissions,
            "You do not have permission to do this.",
        )
    }

    /// 404 `PROJECT_NOT_FOUND`, also for a project the caller does not belong to.
    pub fn project_not_found() -> Self {
        Self::new(Category::ProjectNotFound, "Project not found.")
    }

    /// 404 `NOT_FOUND` for anything but a project.
    pub fn not_found(what: &str) -> Self {
        Self::new(Category::NotFound, format!("{what} not found."))
    }

    /// 405 `METHOD_NOT_ALLOWED`: a route that exists, asked with another method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            Category::MethodNotAllowed,
            "This method is not allowed on this route.",
        )
    }

    /// 400 `INVALID_JSON`: a body that is not the JSON this endpoint takes.
    pub fn invalid_json(details: impl Into<String>) -> Self {
        Self::new(Category::InvalidJson, "The request body is not valid.").with_details(details)
    }

    /// 400 `INVALID_QUERY_PARAMETER`.
    pub fn invalid_query(details: impl Into<String>) -> Self {
        Self::new(
            Category::InvalidQueryParameter,
            "A query parameter is not valid.",
        )
        .with_details(details)
    }

    /// 400 `INVALID_PATH_PARAMETER`: an id in the path that cannot be one.
    pub fn invalid_path(details: impl Into<String>) -> Self {
        Self::new(
            Category::InvalidPathParameter,
            "A path parameter is not valid.",
        )
        .with_details(details)
    }

    /// 400 `INVALID_REQUEST`: well-formed JSON whose values break a rule.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(Category::InvalidRequest, message)
    }

    /// 500 `INTERNAL_SERVER_ERROR`; `cause` is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::new(
            Category::InternalServerError,
            "Something went wrong on our side.",
        )
        .with_internal(cause)
    }

    /// The cause for the operator's logs, never sent.
    fn with_internal(mut self, cause: impl std::fmt::Display) -> Self {
        self.internal = Some(cause.to_string());
        self
    }

    /// 503 `SERVICE_UNAVAILABLE`: this node cannot take commands now (a new writer is being
    /// elected, or the writer cannot be reached).
    pub fn not_writer() -> Self {
        Self::new(
            Category::ServiceUnavailable,
            "No node can take this command right now (the log's writer is changing); nothing \
             was recorded. Retry shortly, with the same Idempotency-Key.",
        )
    }

    /// 503 `SERVICE_UNAVAILABLE`: the writer was sent a command and stopped answering before
    /// it said what became of it (killed, or too slow): it may have recorded it.
    pub fn writer_lost(cause: impl std::fmt::Display) -> Self {
        Self::new(
            Category::ServiceUnavailable,
            "The node that decides commands stopped answering before it said whether this was \
             recorded. Retry shortly, with the same Idempotency-Key: what was recorded is not \
             recorded twice.",
        )
        .with_internal(cause)
    }

    /// 503 `SERVICE_UNAVAILABLE`: the shared log's database failed or could not be reached
    /// (it restarted, or the network between); the cause is for the operator's logs.
    pub fn database_unreachable(cause: impl std::fmt::Display) -> Self {
        Self::new(
            Category::ServiceUnavailable,
            "The database could not be reached, so whether this was recorded is not known \
             yet. Retry shortly, with the same Idempotency-Key: what was recorded is not \
             recorded twice.",
        )
        .with_internal(cause)
    }

    /// 503 `SERVICE_UNAVAILABLE`: a read needed the log's database, which failed or could not
    /// be reached; nothing was changed.
    pub fn database_unreachable_for_read(cause: impl std::fmt::Display) -> Self {
        Self::new(
            Category::ServiceUnavailable,
            "The database could not be reached; retry shortly.",
        )
        .with_internal(cause)
    }

    /// 503 `SERVICE_UNAVAILABLE`: shutting down.
    pub fn unavailable() -> Self {
        Self::new(
            Category::ServiceUnavailable,
            "The service is shutting down; retry shortly.",
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        use DomainError::*;
        let message = error.sentence();
        let category = match &error {
            ProjectNotFound => return Self::project_not_found(),
            InvalidCredentials => return Self::invalid_auth(),
            AccountNotFound | MemberNotFound | KeyNotFound | InvitationNotFound | GrantNotFound
            | ModelNotFound | BudgetNotFound => Category::NotFound,
            InsufficientPermissions
            | AccountRequired
            | ScopeBeyondOwn
            | InvitationEmailMismatch
            | PromotionalCreditBySupportOnly
            | ModelNotAllowed => Category::InsufficientPermissions,
            SoleOwner | EmailTaken | AlreadyMember | AlreadyInvited | AlreadyExists
            | DuplicateRequest | TooManyKeys | TooManyInvitations | TooManyMembers
            | TooManyProjects | TooManyBalances | TooManyBudgets | TooManyTagsThisMonth => {
                Category::Conflict
            }
            InvitationExpired => Category::InvitationExpired,
            InsufficientCredit | TagBudgetExceeded(_) => Category::AsrPaymentRequired,
            InvalidAmount | SameProject | ExpiryInPast | InvalidExpiry | InvalidName
            | InvalidComment | InvalidScopes | TooManyTags | InvalidModel | InvalidReference
            | TooManyPortions | CommandTooLarge | InvalidOverlap | InvalidReassignment
            | InvalidBudget => Category::InvalidRequest,
        };
        Self::new(category, message)
    }
}

impl From<Busy> for ApiError {
    fn from(_: Busy) -> Self {
        Self::new(
            Category::TooManyRequests,
            "Too many passwords are being checked right now; retry in a moment.",
        )
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::ProjectNotFound => Self::project_not_found(),
            AccessError::InsufficientPermissions => Self::insufficient_permissions(),
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Access(error) => error.into(),
            ReadError::NotFound(what) => Self::not_found(what),
            ReadError::ModelNotAllowed => Self::from(DomainError::ModelNotAllowed),
            ReadError::Storage(cause) => Self::internal(cause),
            ReadError::DatabaseUnreachable(cause) => Self::database_unreachable_for_read(cause),
        }
    }
}

/// A failed read of the log or of the trees beside it (sessions, the outbox): 503 when its
/// database could not be reached, 500 otherwise.
impl From<LogError> for ApiError {
    fn from(error: LogError) -> Self {
        ReadError::from(error).into()
    }
}

impl From<MeteringError> for ApiError {
    fn from(error: MeteringError) -> Self {
        match error {
            MeteringError::Command(error) => error.into(),
            MeteringError::Read(error) => error.into(),
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        let database_failed = error.database_failed();
        match error {
            CommandError::Domain(error) => error.into(),
            CommandError::Storage(cause) if database_failed => Self::database_unreachable(cause),
            CommandError::Storage(cause) => Self::internal(cause),
            CommandError::Unavailable => Self::unavailable(),
            CommandError::NotWriter => Self::not_writer(),
            CommandError::Busy(busy) => busy.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(PendingErrorBody {
            category: self.category.code(),
            message: self.message,
            details: self.details,
            internal: self.internal,
        });
        response
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;

/// Says on an answer refused for now (503: the database, the writer or this node is not ready)
/// when to come back, unless it says so already. Every answer passes here on its way out, the
/// API's JSON and the Console's pages alike.
pub fn say_when_to_retry(response: &mut Response) {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        (response.headers_mut())
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from_static("1"));
    }
}
