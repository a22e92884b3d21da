//! Errors, one enum per stage, gathered in [`Error`].

use std::path::PathBuf;

use kalam_schema::SchemaError;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `pull`, `generate` or `check`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A schema file could not be parsed or loaded. The payload renders the offending line.
    #[error("{}", .0.summary())]
    Schema(Box<SchemaDiagnostic>),
    /// `kalam-codegen.toml` is missing a file, cannot be parsed or names unknown things.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Rust or SQL output could not be produced.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// Rows read from the server could not be turned into a catalog.
    #[error(transparent)]
    Introspect(#[from] IntrospectError),
    /// The server could not be reached or refused a request.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A file or directory could not be read or written.
    #[error("cannot {action} `{}`", path.display())]
    Io {
        /// What was being done: `read`, `write`, `create directory`, …
        action: &'static str,
        /// The file or directory at fault.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A required setting of the [`Generator`](crate::Generator) was not given.
    #[error("missing setting: {0}")]
    Missing(&'static str),
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// A schema error together with the text of the file it points into, so it can be shown with
/// file, line, column and the offending line.
#[derive(Debug, Clone)]
pub struct SchemaDiagnostic {
    /// The error from `kalam-schema`.
    pub error: SchemaError,
    /// The text of the file the error points into, when it could be read.
    pub source_text: Option<String>,
}

impl SchemaDiagnostic {
    /// Builds a diagnostic, reading the file named by the error's location for the snippet.
    pub fn new(error: SchemaError) -> SchemaDiagnostic {
        let source_text = error
            .location
            .as_ref()
            .and_then(|loc| loc.file.as_ref())
            .and_then(|file| std::fs::read_to_string(file).ok());
        SchemaDiagnostic { error, source_text }
    }

    /// One line: message and `file:line:column`.
    pub fn summary(&self) -> String {
        format!("invalid schema: {}", self.error)
    }

    /// The rustc-style rendering: message, `--> file:line:column`, the line and a caret.
    ///
    /// ```
    /// use kalam_codegen::SchemaDiagnostic;
    /// use kalam_schema::{ErrorKind, Location, SchemaError};
    /// let text = "CREATE TABLE app.t (id BIGINTT PRIMARY KEY);";
    /// let err = SchemaError::new(ErrorKind::UnsupportedType, "unknown type `BIGINTT`")
    ///     .at(Location::at_offset(text, 23, 7));
    /// let diag = SchemaDiagnostic { error: err, source_text: Some(text.to_owned()) };
    /// assert!(diag.render().contains("^^^^^^^"));
    /// ```
    pub fn render(&self) -> String {
        match &self.source_text {
            Some(text) => self.error.render(text),
            None => format!("error: {}\n", self.error),
        }
    }
}

impl From<SchemaError> for Error {
    fn from(error: SchemaError) -> Error {
        Error::Schema(Box::new(SchemaDiagnostic::new(error)))
    }
}

/// Problems with `kalam-codegen.toml`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file is not valid TOML or has unknown keys.
    #[error("invalid config file `{}`", path.display())]
    Parse {
        /// The config file.
        path: PathBuf,
        /// What `toml` reported (with line and column).
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A `[types]` key is not a KalamDB type name.
    #[error("unknown SQL type `{0}` in [types]")]
    UnknownType(String),
    /// An override names a Rust type that does not parse.
    #[error("`{value}` for `{key}` is not a Rust type")]
    InvalidRustType {
        /// The config key (`support.messages.body`, `TIMESTAMP`).
        key: String,
        /// The text that did not parse.
        value: String,
    },
    /// An extra derive is not a path.
    #[error("`{0}` in derives is not a path")]
    InvalidDerive(String),
    /// A rename is not a valid Rust identifier.
    #[error("`{value}` for `{key}` is not a Rust identifier")]
    InvalidName {
        /// The config key.
        key: String,
        /// The requested name.
        value: String,
    },
    /// A table or column override names a table that is not in the schema.
    #[error("[tables] names `{0}`, which is not a table of the schema")]
    UnknownTable(String),
    /// A column override names a column that is not in the schema.
    #[error("[columns] names `{0}`, which is not a column of the schema")]
    UnknownColumn(String),
    /// A column key is not `namespace.table.column`.
    #[error("[columns] key `{0}` is not `namespace.table.column`")]
    BadColumnKey(String),
}

/// Problems producing output from a catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The generated tokens did not form a valid Rust file (a bug, or a bad override type).
    #[error("generated code for `{what}` is not valid Rust")]
    InvalidTokens {
        /// The namespace or file being generated.
        what: String,
        /// The parser's message.
        #[source]
        source: syn::Error,
    },
    /// A type path from the type table or the config did not parse.
    #[error("`{0}` is not a Rust type")]
    BadType(String),
}

/// Problems turning introspection rows into a catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectError {
    /// A result set lacks a column the query selected.
    #[error("introspection result has no column `{0}`")]
    MissingColumn(&'static str),
    /// A cell has the wrong JSON shape.
    #[error("unexpected value for `{column}` of {table}: {value}")]
    BadCell {
        /// The column of the result set.
        column: &'static str,
        /// The table the row describes.
        table: String,
        /// The cell, as JSON.
        value: String,
    },
    /// `system.columns.data_type` holds a type this crate does not know.
    #[error("unknown data type `{data_type}` for column {table}.{column}")]
    UnknownType {
        /// `namespace.table`
        table: String,
        /// Column name.
        column: String,
        /// The data type text.
        data_type: String,
    },
    /// `system.tables.table_type` is not user/shared/stream.
    #[error("unknown table type `{table_type}` for {table}")]
    UnknownTableKind {
        /// `namespace.table`
        table: String,
        /// The table type text.
        table_type: String,
    },
    /// A `default_value` cell is in none of the server's forms.
    #[error("cannot read default `{value}` of column {table}.{column}")]
    BadDefault {
        /// `namespace.table`
        table: String,
        /// Column name.
        column: String,
        /// The default text.
        value: String,
    },
    /// A `system.tables.options` cell is not the expected JSON.
    #[error("cannot read options of {table}: {message}")]
    BadOptions {
        /// `namespace.table`
        table: String,
        /// What was wrong.
        message: String,
    },
}

/// Problems talking to a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The URL does not parse.
    #[error("invalid server url `{0}`")]
    Url(String),
    /// The HTTP request could not be sent or its reply could not be read.
    #[error("http request to {url} failed")]
    Http {
        /// The endpoint.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// Login was refused.
    #[error("login as `{user}` failed with http {status}: {body}")]
    Login {
        /// The user name.
        user: String,
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
    /// The server answered a SQL request with an error.
    #[error("server rejected `{sql}`: http {status}: {message}")]
    Sql {
        /// The statement.
        sql: String,
        /// HTTP status.
        status: u16,
        /// The server's message (or the raw body).
        message: String,
    },
    /// The response was not the documented JSON envelope.
    #[error("unexpected response to `{sql}`: {message}")]
    Response {
        /// The statement.
        sql: String,
        /// What was wrong.
        message: String,
    },
    /// No credentials were given.
    #[error("no credentials: pass --token, or --user and --password")]
    NoCredentials,
}
