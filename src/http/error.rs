//! `ApiError`: every refusal as Deepgram's error JSON, `{category, message, details, request_id}`.
//!
//! A handler returns an `ApiError`; the request-id middleware (`super::request_context`) writes
//! the body, so that every error carries the id of the request that caused it.

use crate::{
    access::AccessError, domain::DomainError, metering::MeteringError, processor::CommandError,
    reads::ReadError,
};
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
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

/// An error answer. Internal causes are logged with the request id, never sent.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub category: &'static str,
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
    pub fn new(status: StatusCode, category: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            category,
            message: message.into(),
            details: String::new(),
            internal: None,
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// 401 `INVALID_AUTH`: no, unknown, invalid or expired credentials.
    pub fn invalid_auth() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTH",
            "Invalid credentials.",
        )
    }

    /// 403 `INSUFFICIENT_PERMISSIONS`: known credentials lacking a permission.
    pub fn insufficient_permissions() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
            "You do not have permission to do this.",
        )
    }

    /// 404 `PROJECT_NOT_FOUND`, also for a project the caller does not belong to.
    pub fn project_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "PROJECT_NOT_FOUND",
            "Project not found.",
        )
    }

    /// 404 `NOT_FOUND` for anything but a project.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} not found."),
        )
    }

    /// 400 `INVALID_JSON`: a body that is not the JSON this endpoint takes.
    pub fn invalid_json(details: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            "The request body is not valid.",
        )
        .with_details(details)
    }

    /// 400 `INVALID_QUERY_PARAMETER`.
    pub fn invalid_query(details: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_PARAMETER",
            "A query parameter is not valid.",
        )
        .with_details(details)
    }

    /// 400 `INVALID_PATH_PARAMETER`: an id in the path that cannot be one.
    pub fn invalid_path(details: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PATH_PARAMETER",
            "A path parameter is not valid.",
        )
        .with_details(details)
    }

    /// 400 `INVALID_REQUEST`: well-formed JSON whose values break a rule.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    /// 500 `INTERNAL_SERVER_ERROR`; `cause` is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "Something went wrong on our side.",
        );
        error.internal = Some(cause.to_string());
        error
    }

    /// 503 `SERVICE_UNAVAILABLE`: shutting down.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The service is shutting down; retry shortly.",
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        use DomainError::*;
        let message = {
            let text = error.to_string();
            let mut characters = text.chars();
            match characters.next() {
                Some(first) => format!("{}{}.", first.to_uppercase(), characters.as_str()),
                None => text,
            }
        };
        let (status, category) =
            match error {
                ProjectNotFound => return Self::project_not_found(),
                InvalidCredentials => return Self::invalid_auth(),
                AccountNotFound | MemberNotFound | KeyNotFound | InvitationNotFound
                | GrantNotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
                InsufficientPermissions
                | AccountRequired
                | ScopeBeyondOwn
                | InvitationEmailMismatch => (StatusCode::FORBIDDEN, "INSUFFICIENT_PERMISSIONS"),
                SoleOwner | EmailTaken | AlreadyMember | AlreadyInvited | AlreadyExists
                | DuplicateRequest => (StatusCode::CONFLICT, "CONFLICT"),
                InvitationExpired => (StatusCode::GONE, "INVITATION_EXPIRED"),
                InsufficientCredit => (StatusCode::PAYMENT_REQUIRED, "ASR_PAYMENT_REQUIRED"),
                InvalidAmount | SameProject | ExpiryInPast | InvalidExpiry | InvalidName
                | InvalidComment | InvalidScopes | TooManyTags | InvalidModel
                | InvalidReference => (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            };
        Self::new(status, category, message)
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
            ReadError::Storage(cause) => Self::internal(cause),
        }
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
        match error {
            CommandError::Domain(error) => error.into(),
            CommandError::Storage(cause) => Self::internal(cause),
            CommandError::Unavailable => Self::unavailable(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(PendingErrorBody {
            category: self.category,
            message: self.message,
            details: self.details,
            internal: self.internal,
        });
        response
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;
