//! Statement errors and their mapping to the wire (protocol 1.10).

use datafusion::common::DataFusionError;

/// An error raised while classifying or executing one statement.
#[derive(Debug, Clone)]
pub(crate) struct StmtError {
    /// HTTP status.
    pub(crate) status: u16,
    /// Wire error code.
    pub(crate) code: &'static str,
    /// Message without the `Statement N failed:` prefix.
    pub(crate) message: String,
    /// Whether the message gets the `Statement N failed:` prefix and admin `details`.
    pub(crate) execution: bool,
    /// A cell could not be encoded (1.5): dropped connection or 500.
    pub(crate) unencodable: bool,
}

impl StmtError {
    /// A pre-execution error: no prefix, no details.
    pub(crate) fn early(status: u16, code: &'static str, message: impl Into<String>) -> StmtError {
        StmtError {
            status,
            code,
            message: message.into(),
            execution: false,
            unencodable: false,
        }
    }

    /// An execution-time failure: `400 SQL_EXECUTION_ERROR` with the statement prefix.
    pub(crate) fn exec(message: impl Into<String>) -> StmtError {
        StmtError {
            status: 400,
            code: "SQL_EXECUTION_ERROR",
            message: message.into(),
            execution: true,
            unencodable: false,
        }
    }

    /// An execution-time permission failure: `403 PERMISSION_DENIED` with the prefix.
    pub(crate) fn denied(message: impl Into<String>) -> StmtError {
        StmtError {
            status: 403,
            code: "PERMISSION_DENIED",
            message: format!("Permission denied: {}", message.into()),
            execution: true,
            unencodable: false,
        }
    }

    /// A cell that has no JSON mapping.
    pub(crate) fn unencodable(message: impl Into<String>) -> StmtError {
        StmtError {
            status: 500,
            code: "INTERNAL_ERROR",
            message: message.into(),
            execution: false,
            unencodable: true,
        }
    }

    /// Whether the message may be shown to non-admin callers (protocol 1.10).
    pub(crate) fn is_safe(&self) -> bool {
        let m = self.message.to_ascii_lowercase();
        [
            "already exists",
            "constraint",
            "namespace",
            "parameter",
            "primary key",
            "duplicate",
            "timeout",
            "timed out",
            "permission",
            "no field named",
            "not allowed",
            "cannot be null",
        ]
        .iter()
        .any(|k| m.contains(k))
            || (m.contains("column") && m.contains("not found"))
    }
}

/// Maps a DataFusion failure to the server's execution error.
pub(crate) fn from_datafusion(e: DataFusionError) -> StmtError {
    let text = e.strip_backtrace();
    if text.contains("Access denied:") {
        return StmtError::denied(text);
    }
    if let Some(rest) = text.strip_prefix("Error during planning: table '")
        && let Some(name) = rest.split('\'').next()
    {
        let name = name.strip_prefix("kalam.").unwrap_or(name);
        return StmtError::exec(format!("Table not found: {name}"));
    }
    if text.contains("Cannot encode") {
        return StmtError::unencodable(text);
    }
    StmtError::exec(format!("Invalid operation: {text}"))
}
