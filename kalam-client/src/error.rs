//! The one error type of the crate, and the server's error codes.

use std::fmt;
use std::time::Duration;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when talking to KalamDB.
///
/// Server answers with an error envelope (protocol 1.10, 2.6) become [`Error::Sql`] or
/// [`Error::Auth`]; they are never returned as `Ok`.
///
/// ```
/// use kalam_client::{Error, ErrorCode};
/// # fn classify(err: &Error) -> &'static str {
/// match err {
///     Error::Sql { code: ErrorCode::SqlExecutionError, .. } => "the statement failed",
///     Error::Sql { .. } => "the server refused the statement",
///     Error::Auth { .. } => "credentials problem",
///     Error::Decode { .. } | Error::SchemaMismatch { .. } => "row type does not fit",
///     _ => "other",
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused or failed the SQL request (HTTP 4xx/5xx with an error envelope).
    #[error("server rejected the statement: {code}: {message}")]
    Sql {
        /// The server's error code.
        code: ErrorCode,
        /// The server's message (redacted by the server for non-admin callers).
        message: String,
        /// Extra details (the failing statement), sent to admin callers only.
        details: Option<String>,
    },
    /// Authentication failed: bad credentials, an expired token that could not be renewed,
    /// missing authorization, or a login/refresh refusal.
    #[error("authentication failed: {code}: {message}")]
    Auth {
        /// The server's error code (or login error kind).
        code: ErrorCode,
        /// The server's message.
        message: String,
    },
    /// The HTTP exchange failed: the request could not be sent, the reply could not be read,
    /// or the server answered with a status and a body that is not a KalamDB error envelope.
    #[error("http request failed: {message}")]
    Http {
        /// HTTP status, when the server answered with one.
        status: Option<u16>,
        /// What happened (for a status answer, the start of the body).
        message: String,
        /// The transport error, when there is one.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The server closed the connection without answering. KalamDB does this when a cell of
    /// the result cannot be encoded as JSON (NaN, infinity, some expression types; protocol
    /// 1.5), so the statement is named. Writes are never retried.
    #[error("the server closed the connection without answering statement `{statement}`")]
    ConnectionClosed {
        /// The statement that was being executed (truncated when long).
        statement: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The request or the connection attempt timed out.
    #[error("timed out after {after:?} waiting for {operation}")]
    Timeout {
        /// What was being waited for.
        operation: String,
        /// The configured limit.
        after: Duration,
    },
    /// A cell could not be turned into the requested Rust type.
    #[error("cannot decode column `{column}`: expected {expected}, found {found}")]
    Decode {
        /// Column name (or `#index` when the result has no schema).
        column: String,
        /// The Rust type or value shape that was expected.
        expected: String,
        /// What the cell held.
        found: String,
    },
    /// The result's columns do not fit the row type (checked before any row is decoded).
    #[error(
        "result does not fit the row type at column `{column}`: expected {expected}, found {found}"
    )]
    SchemaMismatch {
        /// Column the row type expects.
        column: String,
        /// What the row type expects there.
        expected: String,
        /// What the result has there.
        found: String,
    },
    /// `fetch_one` or `fetch_scalar` found no row.
    #[error("the query returned no rows")]
    RowNotFound,
    /// A bound parameter cannot be sent (for example a NaN float or a `u64` above `i64::MAX`).
    #[error("cannot bind parameter ${index}: {message}")]
    Param {
        /// 1-based parameter number.
        index: usize,
        /// Why.
        message: String,
    },
    /// The files of an upload do not match its `FILE("name")` placeholders (checked before
    /// anything is sent). The server would not report this as such: a placeholder without its
    /// file reaches the SQL engine as a call to an unknown function `file`, and a file no
    /// placeholder names is silently dropped.
    #[error("{}", file_parts_message(missing, extra))]
    FileParts {
        /// Placeholders no file was given for, in statement order.
        missing: Vec<String>,
        /// Files no placeholder names (or given a second time), in the order they were added.
        extra: Vec<String>,
    },
    /// The server said something the protocol does not allow.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The client configuration is invalid (reported by `build()`).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The server's error code, for [`Error::Sql`] and [`Error::Auth`].
    ///
    /// ```
    /// use kalam_client::{Error, ErrorCode};
    /// let e = Error::Sql { code: ErrorCode::InvalidSql, message: "bad".into(), details: None };
    /// assert_eq!(e.code(), Some(&ErrorCode::InvalidSql));
    /// ```
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Sql { code, .. } | Error::Auth { code, .. } => Some(code),
            _ => None,
        }
    }

    pub(crate) fn decode(
        column: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Error {
        Error::Decode {
            column: column.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }
}

fn file_parts_message(missing: &[String], extra: &[String]) -> String {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("no file for FILE placeholder(s) {}", list(missing)));
    }
    if !extra.is_empty() {
        parts.push(format!(
            "file(s) {} not named by any FILE placeholder (or given twice)",
            list(extra)
        ));
    }
    format!("upload does not match its statement: {}", parts.join("; "))
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $($text:literal)|+,)*) => {
        /// A KalamDB error code (protocol 1.10 and 2.6), or a login error kind (2.2).
        ///
        /// Unknown codes keep their text in [`ErrorCode::Other`].
        ///
        /// ```
        /// use kalam_client::ErrorCode;
        /// assert_eq!(ErrorCode::parse("TOKEN_EXPIRED"), ErrorCode::TokenExpired);
        /// assert_eq!(ErrorCode::parse("NEW_CODE").as_str(), "NEW_CODE");
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A code this client does not know.
            Other(String),
        }

        impl ErrorCode {
            /// Maps the wire text to a code.
            pub fn parse(text: &str) -> ErrorCode {
                match text {
                    $($($text)|+ => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }

            /// The wire text of the code.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => error_codes!(@first $($text)|+),)*
                    ErrorCode::Other(s) => s,
                }
            }
        }
    };
    (@first $first:literal $(| $rest:literal)*) => { $first };
}

error_codes! {
    /// `RATE_LIMIT_EXCEEDED` (429).
    RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
    /// `INVALID_INPUT`: bad JSON, content type, multipart or `EXECUTE AS` envelope.
    InvalidInput => "INVALID_INPUT",
    /// `INVALID_PARAMETER`: an array/object parameter.
    InvalidParameter => "INVALID_PARAMETER",
    /// `BATCH_PARSE_ERROR`: the statement splitter failed.
    BatchParseError => "BATCH_PARSE_ERROR",
    /// `EMPTY_SQL`: nothing to run.
    EmptySql => "EMPTY_SQL",
    /// `PARAMS_WITH_BATCH`: parameters with several statements.
    ParamsWithBatch => "PARAMS_WITH_BATCH",
    /// `INVALID_SQL`: parse or validation failure.
    InvalidSql => "INVALID_SQL",
    /// `PERMISSION_DENIED` (403).
    PermissionDenied => "PERMISSION_DENIED",
    /// `SQL_EXECUTION_ERROR`: the statement failed while running.
    SqlExecutionError => "SQL_EXECUTION_ERROR",
    /// `TABLE_NOT_FOUND` (file uploads).
    TableNotFound => "TABLE_NOT_FOUND",
    /// `NOT_LEADER` (cluster follower).
    NotLeader => "NOT_LEADER",
    /// `FORWARD_FAILED`.
    ForwardFailed => "FORWARD_FAILED",
    /// `CLUSTER_UNAVAILABLE`.
    ClusterUnavailable => "CLUSTER_UNAVAILABLE",
    /// `LEADER_NOT_AVAILABLE`.
    LeaderNotAvailable => "LEADER_NOT_AVAILABLE",
    /// `INTERNAL_ERROR` (500), e.g. a cell that cannot be encoded in a buffered answer.
    InternalError => "INTERNAL_ERROR" | "internal_error",
    /// `FILE_TOO_LARGE`.
    FileTooLarge => "FILE_TOO_LARGE",
    /// `TOO_MANY_FILES`.
    TooManyFiles => "TOO_MANY_FILES",
    /// `MISSING_FILE`.
    MissingFile => "MISSING_FILE",
    /// `EXTRA_FILE`.
    ExtraFile => "EXTRA_FILE",
    /// `FILE_NOT_FOUND`.
    FileNotFound => "FILE_NOT_FOUND",
    /// `INVALID_MIME_TYPE`.
    InvalidMimeType => "INVALID_MIME_TYPE",
    /// `MISSING_AUTHORIZATION`: no bearer token was sent.
    MissingAuthorization => "MISSING_AUTHORIZATION",
    /// `TOKEN_EXPIRED`: the access token is past its expiry.
    TokenExpired => "TOKEN_EXPIRED",
    /// `INVALID_CREDENTIALS`: bad token, or wrong user/password at login.
    InvalidCredentials => "INVALID_CREDENTIALS",
    /// `REMOTE_ACCESS_DENIED`.
    RemoteAccessDenied => "REMOTE_ACCESS_DENIED",
    /// `INSUFFICIENT_PERMISSIONS`.
    InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
    /// `SETUP_REQUIRED` / login `setup_required` (428): the root password is not set.
    SetupRequired => "SETUP_REQUIRED" | "setup_required",
    /// `ACCOUNT_LOCKED` / login `account_locked`.
    AccountLocked => "ACCOUNT_LOCKED" | "account_locked",
    /// `AUTHENTICATION_ERROR` (500 during the bearer check).
    AuthenticationError => "AUTHENTICATION_ERROR",
    /// Login/refresh `unauthorized` (401): wrong password, unknown user, bad refresh token.
    Unauthorized => "unauthorized",
    /// Login/setup `forbidden` (403), and topics' `FORBIDDEN` (a role without topic access).
    Forbidden => "forbidden" | "FORBIDDEN",
    /// Login `rate_limited` (429).
    RateLimited => "rate_limited",
    /// First-run setup `already_configured` (409): the root password is already set.
    AlreadyConfigured => "already_configured",
    /// First-run setup `user_exists` (409).
    UserExists => "user_exists",
    /// First-run setup `weak_password` (400).
    WeakPassword => "weak_password",
    /// First-run setup `invalid_user` (400): a bad user id, or `root`.
    InvalidUser => "invalid_user",
    /// Topics and files: `NOT_FOUND` (404), e.g. an unknown topic.
    NotFound => "NOT_FOUND",
}

impl ErrorCode {
    /// True for the codes of the bearer check and of the login endpoint, which this crate
    /// reports as [`Error::Auth`].
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            ErrorCode::MissingAuthorization
                | ErrorCode::TokenExpired
                | ErrorCode::InvalidCredentials
                | ErrorCode::RemoteAccessDenied
                | ErrorCode::InsufficientPermissions
                | ErrorCode::SetupRequired
                | ErrorCode::AccountLocked
                | ErrorCode::AuthenticationError
                | ErrorCode::Unauthorized
                | ErrorCode::Forbidden
                | ErrorCode::RateLimited
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for text in [
            "INVALID_SQL",
            "TOKEN_EXPIRED",
            "SQL_EXECUTION_ERROR",
            "PERMISSION_DENIED",
            "unauthorized",
            "SOMETHING_NEW",
        ] {
            assert_eq!(ErrorCode::parse(text).as_str(), text);
        }
        assert_eq!(ErrorCode::parse("setup_required"), ErrorCode::SetupRequired);
        assert_eq!(ErrorCode::parse("FORBIDDEN"), ErrorCode::Forbidden);
        assert!(ErrorCode::TokenExpired.is_auth());
        assert!(!ErrorCode::InvalidSql.is_auth());
    }

    #[test]
    fn file_parts_name_both_sides() {
        let e = Error::FileParts {
            missing: vec!["a".into()],
            extra: vec!["b".into(), "c".into()],
        };
        assert_eq!(
            e.to_string(),
            "upload does not match its statement: no file for FILE placeholder(s) `a`; \
             file(s) `b`, `c` not named by any FILE placeholder (or given twice)"
        );
    }

    #[test]
    fn error_stays_small() {
        assert!(std::mem::size_of::<Error>() <= 128);
    }
}
