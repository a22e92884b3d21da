//! JSON shapes of the HTTP API (protocol 1.2, 1.4, 1.7, 1.10, 2.2), untyped.

use std::fmt;

use kalam_schema::SqlType;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode};

/// A result column's type as the server reports it (`KalamDataType`, protocol 1.7).
pub type KalamDataType = SqlType;

/// The body of `POST /v1/api/sql`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct QueryRequest<'a> {
    pub(crate) sql: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) params: &'a [serde_json::Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace_id: Option<&'a str>,
}

/// `status` of a response envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseStatus {
    /// Every statement succeeded.
    Success,
    /// The request failed (see `error`).
    Error,
}

/// A whole SQL response, untyped (what [`KalamClient::execute_query`] returns).
///
/// [`KalamClient::execute_query`]: crate::KalamClient::execute_query
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryResponse {
    /// `success` (errors are returned as [`Error`](crate::Error) instead).
    pub status: ResponseStatus,
    /// One entry per statement (DML in batches is aggregated, protocol 1.6).
    #[serde(default)]
    pub results: Vec<QueryResult>,
    /// Server time in milliseconds.
    #[serde(default)]
    pub took: Option<f64>,
    /// The error, on error envelopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The result of one statement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryResult {
    /// Result columns (empty for DDL and DML).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema: Vec<SchemaField>,
    /// Rows as positional arrays of JSON cells (`None` for DDL and DML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Vec<serde_json::Value>>>,
    /// Rows returned (queries) or affected (DML).
    #[serde(default)]
    pub row_count: u64,
    /// Message of non-query statements (informational; do not parse it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The effective user the statement ran as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_user: Option<String>,
}

impl QueryResult {
    /// The column names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.schema.iter().map(|f| f.name.as_str()).collect()
    }
}

/// One result column (protocol 1.7). The metadata is a hint: `nn` survives outer joins and
/// aliased expressions may be described by their source column.
///
/// ```
/// use kalam_client::{KalamDataType, SchemaField};
/// let f: SchemaField = serde_json::from_str(
///     r#"{"name":"price","data_type":{"Decimal":{"precision":10,"scale":2}},"index":4}"#).unwrap();
/// assert_eq!(f.data_type, KalamDataType::Decimal { precision: 10, scale: 2 });
/// assert!(!f.is_not_null());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaField {
    /// Column name.
    pub name: String,
    /// Column type. Types this client does not know are reported as `Text`, which is what the
    /// server itself does for result types without a KalamDB equivalent.
    #[serde(
        deserialize_with = "deserialize_data_type",
        serialize_with = "serialize_data_type"
    )]
    pub data_type: KalamDataType,
    /// 0-based position in each row.
    #[serde(default)]
    pub index: usize,
    /// `pk`, `nn`, `uq` (from table metadata).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

impl SchemaField {
    /// The column is (part of) the primary key.
    pub fn is_primary_key(&self) -> bool {
        self.flags.iter().any(|f| f == "pk")
    }

    /// The server claims the column is NOT NULL (a hint only, see the type docs).
    pub fn is_not_null(&self) -> bool {
        self.flags.iter().any(|f| f == "nn")
    }
}

fn serialize_data_type<S: serde::Serializer>(t: &SqlType, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    match *t {
        SqlType::Embedding(n) => {
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry("Embedding", &n)?;
            m.end()
        }
        SqlType::Decimal { precision, scale } => {
            #[derive(Serialize)]
            struct Ps {
                precision: u8,
                scale: u8,
            }
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry("Decimal", &Ps { precision, scale })?;
            m.end()
        }
        other => s.serialize_str(other.wire_name()),
    }
}

fn deserialize_data_type<'de, D: Deserializer<'de>>(d: D) -> Result<SqlType, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = SqlType;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a KalamDataType")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<SqlType, E> {
            Ok(SqlType::from_wire_name(v).unwrap_or(SqlType::Text))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SqlType, A::Error> {
            #[derive(Deserialize)]
            struct Ps {
                precision: u8,
                scale: u8,
            }
            let mut out = SqlType::Text;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match key.as_ref() {
                    "Embedding" => out = SqlType::Embedding(map.next_value()?),
                    "Decimal" => {
                        let ps: Ps = map.next_value()?;
                        out = SqlType::Decimal {
                            precision: ps.precision,
                            scale: ps.scale,
                        };
                    }
                    _ => {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// The `error` object of an error envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Error code (`INVALID_SQL`, `TOKEN_EXPIRED`, …).
    pub code: String,
    /// Message.
    pub message: String,
    /// Failing statement (admin callers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl ErrorDetail {
    /// Converts to [`Error::Auth`] or [`Error::Sql`] by code.
    pub(crate) fn into_error(self) -> Error {
        let code = ErrorCode::parse(&self.code);
        // Admins get the failing statement back, which may carry a password.
        let redact = |text: String| match crate::sqltext::redact_secrets(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(redacted) => redacted,
        };
        let message = redact(self.message);
        if code.is_auth() {
            Error::Auth { code, message }
        } else {
            Error::Sql {
                code,
                message,
                details: self.details.map(redact),
            }
        }
    }
}

/// Just enough of an envelope to find its `error`.
#[derive(Deserialize)]
struct ErrorEnvelope {
    error: Option<ErrorDetail>,
}

/// Login/refresh/file failures: `{"error":"<kind>","message":"…"}` or `{"error":"…","code":"…"}`.
#[derive(Deserialize)]
struct FlatError {
    error: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// Turns a non-2xx answer into an error: an envelope's `error`, a flat `{error, message}`
/// body (auth endpoints), or [`Error::Http`] with the start of the body.
pub(crate) fn error_from_body(status: u16, body: &[u8]) -> Error {
    if let Ok(ErrorEnvelope {
        error: Some(detail),
    }) = serde_json::from_slice(body)
    {
        return detail.into_error();
    }
    if let Ok(flat) = serde_json::from_slice::<FlatError>(body) {
        return match (flat.code, flat.message) {
            (Some(code), _) => ErrorDetail {
                code,
                message: flat.error,
                details: None,
            }
            .into_error(),
            (None, Some(message)) => {
                let code = ErrorCode::parse(&flat.error);
                if code.is_auth() || status == 401 || status == 403 || status == 428 {
                    Error::Auth { code, message }
                } else {
                    Error::Sql {
                        code,
                        message,
                        details: None,
                    }
                }
            }
            (None, None) => http_status_error(status, body),
        };
    }
    http_status_error(status, body)
}

pub(crate) fn http_status_error(status: u16, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(body);
    let mut excerpt: String = text.chars().take(200).collect();
    if text.chars().nth(200).is_some() {
        excerpt.push('…');
    }
    Error::Http {
        status: Some(status),
        message: format!("HTTP {status}: {excerpt}"),
        source: None,
    }
}

/// `POST /v1/api/auth/login` and `/refresh` success body (protocol 2.2).
#[derive(Clone, Deserialize)]
pub struct LoginResponse {
    /// The logged-in user.
    pub user: LoginUserInfo,
    /// True for dba/system users.
    #[serde(default)]
    pub admin_ui_access: bool,
    /// Access token expiry (RFC 3339).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Access token (a secret: not shown by `Debug`).
    pub access_token: String,
    /// Refresh token (a secret: not shown by `Debug`).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Refresh token expiry (RFC 3339).
    #[serde(default)]
    pub refresh_expires_at: Option<String>,
}

impl fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginResponse")
            .field("user", &self.user)
            .field("admin_ui_access", &self.admin_ui_access)
            .field("expires_at", &self.expires_at)
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish()
    }
}

/// The `user` object of a login response.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LoginUserInfo {
    /// User id.
    pub id: String,
    /// Role: `user`, `service`, `dba` or `system`.
    pub role: String,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Display name (newer servers only).
    #[serde(default)]
    pub name: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Last update (RFC 3339).
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// `GET /v1/api/healthcheck` body (protocol 2.7).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct HealthCheckResponse {
    /// `healthy`.
    pub status: String,
    /// Server version.
    #[serde(default)]
    pub version: String,
    /// API version (`v1`).
    #[serde(default)]
    pub api_version: String,
    /// Build date.
    #[serde(default)]
    pub build_date: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_types_parse_every_shape() {
        let cases = [
            (r#""BigInt""#, SqlType::BigInt),
            (r#"{"Embedding":384}"#, SqlType::Embedding(384)),
            (
                r#"{"Decimal":{"precision":10,"scale":2}}"#,
                SqlType::Decimal {
                    precision: 10,
                    scale: 2,
                },
            ),
            (r#""Interval""#, SqlType::Text),
        ];
        for (json, ty) in cases {
            let text = format!(r#"{{"name":"c","data_type":{json},"index":0}}"#);
            let f: SchemaField = serde_json::from_str(&text).unwrap();
            assert_eq!(f.data_type, ty, "{json}");
            if ty != SqlType::Text {
                let back = serde_json::to_string(&f).unwrap();
                assert!(back.contains(json), "{back}");
            }
        }
    }

    #[test]
    fn error_bodies_map_to_variants() {
        let e = error_from_body(
            400,
            br#"{"status":"error","results":[],"took":0.1,"error":{"code":"INVALID_SQL","message":"m"}}"#,
        );
        assert!(matches!(
            e,
            Error::Sql {
                code: ErrorCode::InvalidSql,
                ..
            }
        ));
        let e = error_from_body(
            401,
            br#"{"error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"},"results":[],"status":"error","took":0.02}"#,
        );
        assert!(matches!(
            e,
            Error::Auth {
                code: ErrorCode::TokenExpired,
                ..
            }
        ));
        let e = error_from_body(
            401,
            br#"{"error":"unauthorized","message":"Invalid credentials"}"#,
        );
        assert!(matches!(
            e,
            Error::Auth {
                code: ErrorCode::Unauthorized,
                ..
            }
        ));
        let e = error_from_body(
            404,
            br#"{"error":"File not found","code":"FILE_NOT_FOUND"}"#,
        );
        assert!(matches!(
            e,
            Error::Sql {
                code: ErrorCode::FileNotFound,
                ..
            }
        ));
        let e = error_from_body(400, b"Json deserialize error: unknown field `x`");
        assert!(matches!(
            e,
            Error::Http {
                status: Some(400),
                ..
            }
        ));
    }

    #[test]
    fn login_debug_hides_tokens() {
        let r: LoginResponse = serde_json::from_str(
            r#"{"user":{"id":"a","role":"user"},"access_token":"SECRET1","refresh_token":"SECRET2"}"#,
        )
        .unwrap();
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("SECRET"), "{dbg}");
    }
}
