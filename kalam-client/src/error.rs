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
    /// A query returned as many rows as the server sends at most (its `max_query_limit`,
    /// which the client's [`max_query_limit`](crate::KalamClientBuilder::max_query_limit)
    /// must match), so rows may be missing, and the client could not page through the rest
    /// exactly: joins, grouping, `DISTINCT`, window functions, set operations, ordering by a
    /// column other than the primary key. `reason` says why and what to do (add a `LIMIT`,
    /// narrow the `WHERE` clause, or order one table by its primary key). Never returned
    /// when every row arrived.
    #[error("the query reached the server's cap of {limit} rows and more may exist: {reason}")]
    Truncated {
        /// The row cap that was reached.
        limit: u64,
        /// Why the rest cannot be fetched, and what to do instead.
        reason: String,
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
    /// An answer was larger than the client's
    /// [`max_response_size`](crate::KalamClientBuilder::max_response_size): an HTTP body (also
    /// when only announced by `Content-Length`), a WebSocket message, or a compressed frame
    /// once inflated. Nothing beyond the limit was kept in memory.
    #[error("{what} is larger than the maximum of {limit} bytes (see max_response_size)")]
    TooLarge {
        /// What was being read.
        what: String,
        /// The configured limit, in bytes.
        limit: u64,
    },
    /// The server said something the protocol does not allow.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The client configuration is invalid (reported by `build()`).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// The WHERE of a live query cannot be evaluated in its
    /// [`FilterMode`](crate::live::FilterMode): exact mode does not evaluate one of its
    /// expressions, or the server's live filter would silently lose changes (server mode).
    /// Reported before subscribing.
    #[error("live query filter ({mode:?} mode): {message}")]
    LiveFilter {
        /// The mode that cannot evaluate it.
        mode: kalam_schema::filter::FilterMode,
        /// What is wrong, with its position in the SQL.
        message: String,
        /// How to fix it (for server mode: use exact mode, or a rewrite the server delivers).
        help: Option<String>,
    },
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

    /// What kind of failure this is, for matching without reading messages: a duplicate
    /// primary key, a missing table, a refused permission… The server's own
    /// [`code`](Error::code) and message stay in the error.
    ///
    /// KalamDB reports most execution failures as `SQL_EXECUTION_ERROR` and tells them apart
    /// only in the message text, so the kind is read from the code first and the message
    /// second. Callers whose role is not `dba`/`system` get some messages replaced by
    /// `SQL statement failed` (protocol 1.10); those are [`ErrorKind::Other`].
    ///
    /// ```
    /// use kalam_client::{Error, ErrorCode, ErrorKind};
    /// let e = Error::Sql {
    ///     code: ErrorCode::SqlExecutionError,
    ///     message: "Statement 1 failed: Primary key violation: value '1' already exists in column 'id'".into(),
    ///     details: None,
    /// };
    /// assert_eq!(e.kind(), ErrorKind::UniqueViolation);
    /// assert_eq!(Error::RowNotFound.kind(), ErrorKind::RowNotFound);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Sql { code, message, .. } | Error::Auth { code, message } => {
                ErrorKind::classify(code, message)
            }
            Error::Http { status, .. } => match status {
                Some(429) => ErrorKind::RateLimited,
                Some(s) if *s >= 500 => ErrorKind::Unavailable,
                _ => ErrorKind::Connection,
            },
            Error::ConnectionClosed { .. } => ErrorKind::Connection,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Decode { .. } | Error::SchemaMismatch { .. } => ErrorKind::Decode,
            Error::RowNotFound => ErrorKind::RowNotFound,
            Error::Truncated { .. } => ErrorKind::Truncated,
            Error::Param { .. } | Error::FileParts { .. } => ErrorKind::InvalidParameter,
            Error::Protocol(_) => ErrorKind::Protocol,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::Config(_) => ErrorKind::Config,
            Error::LiveFilter { .. } => ErrorKind::InvalidSql,
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

/// The kind of an [`Error`] (see [`Error::kind`]): one classification across server codes,
/// server messages and client-side failures.
///
/// ```
/// use kalam_client::{Error, ErrorKind};
/// # fn insert() -> Result<(), Error> { Ok(()) }
/// match insert() {
///     Err(e) if e.kind() == ErrorKind::UniqueViolation => println!("already there"),
///     Err(e) => return Err(e),
///     Ok(()) => {}
/// }
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A primary-key (or unique) value that already exists.
    UniqueViolation,
    /// A NULL written into a NOT NULL column.
    NotNullViolation,
    /// The statement names something that does not exist: a namespace, table, column, topic,
    /// user or file.
    NotFound,
    /// The statement creates something that already exists (namespace, table, user, topic).
    AlreadyExists,
    /// The caller's role may not do this (`PERMISSION_DENIED`, a refused `EXECUTE AS USER`, a
    /// write to a SHARED table without write access…).
    PermissionDenied,
    /// The SQL does not parse, the server refuses its shape or its types, or a live filter
    /// cannot be evaluated in its mode ([`Error::LiveFilter`]).
    InvalidSql,
    /// A parameter could not be bound, or the server refused the parameters.
    InvalidParameter,
    /// Credentials were refused, or the token expired and could not be renewed.
    Authentication,
    /// Too many requests (`RATE_LIMIT_EXCEEDED`, login `rate_limited`).
    RateLimited,
    /// The server (or the cluster leader) is not able to answer now: HTTP 5xx, `NOT_LEADER`
    /// and the other cluster codes, `INTERNAL_ERROR`.
    Unavailable,
    /// The connection failed or was closed without an answer.
    Connection,
    /// A request timed out.
    Timeout,
    /// A result did not fit the row type (a cell or a column).
    Decode,
    /// `fetch_one`/`fetch_scalar` found no row.
    RowNotFound,
    /// A result reached the server's row cap and could not be paged exactly
    /// ([`Error::Truncated`]).
    Truncated,
    /// The server broke the protocol.
    Protocol,
    /// An answer was larger than the configured maximum ([`Error::TooLarge`]).
    TooLarge,
    /// The client configuration is invalid.
    Config,
    /// Anything else (including messages the server redacted for non-admin callers).
    Other,
}

impl ErrorKind {
    /// Reads the kind of a server error from its code, then from its message.
    fn classify(code: &ErrorCode, message: &str) -> ErrorKind {
        use ErrorCode as C;
        match code {
            C::PermissionDenied
            | C::InsufficientPermissions
            | C::Forbidden
            | C::RemoteAccessDenied => {
                return ErrorKind::PermissionDenied;
            }
            C::InvalidSql | C::BatchParseError | C::EmptySql | C::InvalidInput => {
                return ErrorKind::InvalidSql;
            }
            C::InvalidParameter | C::ParamsWithBatch => return ErrorKind::InvalidParameter,
            C::RateLimitExceeded | C::RateLimited => return ErrorKind::RateLimited,
            C::TableNotFound | C::FileNotFound | C::NotFound => return ErrorKind::NotFound,
            C::NotLeader
            | C::ForwardFailed
            | C::ClusterUnavailable
            | C::LeaderNotAvailable
            | C::InternalError => return ErrorKind::Unavailable,
            C::UserExists | C::AlreadyConfigured => return ErrorKind::AlreadyExists,
            c if c.is_auth() => return ErrorKind::Authentication,
            _ => {}
        }
        let m = message.to_ascii_lowercase();
        let has = |needle: &str| m.contains(needle);
        if has("primary key violation") || has("duplicate") || has("unique constraint") {
            ErrorKind::UniqueViolation
        } else if has("cannot be null") || has("not null constraint") || has("null value in column")
        {
            ErrorKind::NotNullViolation
        } else if has("permission denied") || has("not authorized") || has("access denied") {
            ErrorKind::PermissionDenied
        } else if has("already exists") {
            ErrorKind::AlreadyExists
        } else if has("not found") || has("does not exist") || has("no field named") {
            ErrorKind::NotFound
        } else if has("parameter") {
            ErrorKind::InvalidParameter
        } else if has("sql parser error") || has("parse error") || has("syntax") {
            ErrorKind::InvalidSql
        } else {
            ErrorKind::Other
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
    fn kinds_from_codes_and_observed_messages() {
        let sql = |code: &str, message: &str| Error::Sql {
            code: ErrorCode::parse(code),
            message: message.to_owned(),
            details: None,
        };
        let cases = [
            (
                "SQL_EXECUTION_ERROR",
                "Statement 1 failed: Primary key violation: value '1' already exists in column 'id'",
                ErrorKind::UniqueViolation,
            ),
            (
                "SQL_EXECUTION_ERROR",
                "Statement 1 failed: Already exists: Namespace 'app' already exists",
                ErrorKind::AlreadyExists,
            ),
            (
                "SQL_EXECUTION_ERROR",
                "Statement 1 failed: Table not found: app.nope",
                ErrorKind::NotFound,
            ),
            (
                "SQL_EXECUTION_ERROR",
                "Statement 1 failed: Invalid operation: Schema error: No field named nope.",
                ErrorKind::NotFound,
            ),
            (
                "SQL_EXECUTION_ERROR",
                "Statement 1 failed: Parameter count exceeded: maximum 50 parameters allowed, got 51",
                ErrorKind::InvalidParameter,
            ),
            (
                "SQL_EXECUTION_ERROR",
                "SQL statement failed",
                ErrorKind::Other,
            ),
            (
                "PERMISSION_DENIED",
                "Statement 1 failed: Permission denied: Shared table write denied (access_level=Public)",
                ErrorKind::PermissionDenied,
            ),
            (
                "SQL_EXECUTION_ERROR",
                "Statement 1 failed: Unauthorized: EXECUTE AS USER is not authorized: actor 'bob' with role User",
                ErrorKind::PermissionDenied,
            ),
            (
                "INVALID_SQL",
                "sql parser error: Expected: an SQL statement, found: SELEC",
                ErrorKind::InvalidSql,
            ),
            (
                "NOT_LEADER",
                "Leader: http://10.0.0.1:8080",
                ErrorKind::Unavailable,
            ),
            ("TOKEN_EXPIRED", "Token expired", ErrorKind::Authentication),
            (
                "RATE_LIMIT_EXCEEDED",
                "Too many requests",
                ErrorKind::RateLimited,
            ),
        ];
        for (code, message, kind) in cases {
            assert_eq!(sql(code, message).kind(), kind, "{code}: {message}");
        }
        assert_eq!(Error::Config("x".into()).kind(), ErrorKind::Config);
        assert_eq!(
            Error::Param {
                index: 1,
                message: "NaN".into()
            }
            .kind(),
            ErrorKind::InvalidParameter
        );
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
