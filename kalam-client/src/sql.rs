//! `POST /v1/api/sql`: authentication, retries, error mapping (protocol 1, 1.11, 2).

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tracing::Instrument as _;

use crate::client::{Inner, KalamClient};
use crate::encode::{EncodeError, QueryParam, ToParam};
use crate::error::{Error, Result};
use crate::wire::{QueryRequest, QueryResponse, ResponseStatus, error_from_body};

/// The first keyword of a statement, upper-cased, after whitespace, comments and `(`.
pub(crate) fn first_keyword(sql: &str) -> String {
    let mut rest = sql;
    loop {
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = trimmed.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = trimmed.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            rest = trimmed;
            break;
        }
    }
    rest.chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// Reads that may be sent again after a connection error.
fn is_idempotent_read(keyword: &str) -> bool {
    matches!(keyword, "SELECT" | "SHOW" | "DESCRIBE" | "EXPLAIN")
}

/// The statement for error messages: one line, at most 120 characters, secrets redacted.
pub(crate) fn statement_excerpt(sql: &str) -> String {
    let one_line = crate::sqltext::redact_secrets(sql)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut out: String = one_line.chars().take(120).collect();
    if one_line.chars().nth(120).is_some() {
        out.push('…');
    }
    out
}

/// Transport failures that are worth retrying for reads: the request may never have reached
/// the server, or the connection died before an answer.
fn is_connection_error(e: &reqwest::Error) -> bool {
    !e.is_timeout() && !e.is_builder() && !e.is_status() && !e.is_redirect()
}

fn transport_error(inner: &Inner, sql: &str, e: reqwest::Error) -> Error {
    if e.is_timeout() {
        let (operation, after) = if crate::transport::is_connect(&e) {
            (
                format!("a connection to {}", inner.base),
                inner.connect_timeout,
            )
        } else {
            (
                format!("the answer to `{}`", statement_excerpt(sql)),
                inner.request_timeout,
            )
        };
        Error::Timeout { operation, after }
    } else if crate::transport::is_connect(&e) {
        Error::Http {
            status: None,
            message: format!("cannot connect to {}", inner.base),
            source: Some(e),
        }
    } else {
        Error::ConnectionClosed {
            statement: statement_excerpt(sql),
            source: e,
        }
    }
}

/// Sends one SQL request and returns the body of a 2xx answer. Non-2xx answers become
/// errors; `TOKEN_EXPIRED` renews the token and resends once; reads are retried after
/// connection errors.
pub(crate) async fn post_sql(
    inner: &Inner,
    sql: &str,
    params: &[Value],
    namespace: Option<&str>,
) -> Result<Bytes> {
    let keyword = first_keyword(sql);
    let span = tracing::info_span!(
        "kalam_client::sql",
        statement = %keyword,
        params = params.len(),
        status = tracing::field::Empty,
    );
    async {
        tracing::debug!(sql = %crate::sqltext::redact_secrets(sql), "sending SQL");
        let body = serde_json::to_vec(&QueryRequest {
            sql,
            params,
            namespace_id: namespace
                .or(inner.namespace.as_deref())
                .map(|ns| inner.namespaces.server_name(ns)),
        })
        .map_err(|e| Error::Protocol(format!("cannot encode the request: {e}")))?;
        let body = Bytes::from(body);
        let retry_reads = is_idempotent_read(&keyword);
        let mut failures = 0u32;
        let mut renewed = false;
        loop {
            let sent = inner
                .send(true, |base| {
                    inner
                        .http
                        .post(format!("{base}/v1/api/sql"))
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone())
                })
                .await?;
            let token = sent.token;
            let answer = match sent.response {
                Ok(response) => {
                    let status = response.status().as_u16();
                    crate::client::read_body(response, inner.max_response_size, "the SQL response")
                        .await
                        .map(|b| (status, b))
                }
                Err(e) => Err(e),
            };
            let (status, bytes) = match answer {
                Ok(ok) => ok,
                Err(e) if retry_reads && failures < inner.max_retries && is_connection_error(&e) => {
                    failures += 1;
                    tracing::warn!(attempt = failures, error = %e, "connection error, retrying read");
                    crate::transport::sleep(Duration::from_millis(100) * failures).await;
                    continue;
                }
                Err(e) => return Err(transport_error(inner, sql, e)),
            };
            let bytes = bytes?;
            tracing::Span::current().record("status", status);
            if (200..300).contains(&status) {
                return Ok(bytes);
            }
            let err = error_from_body(status, &bytes);
            if inner.renew_once(&err, token.as_ref(), &mut renewed).await {
                continue;
            }
            tracing::debug!(status, error = %err, "SQL request failed");
            return Err(err);
        }
    }
    .instrument(span)
    .await
}

/// Encodes parameters, naming the first one that cannot be sent.
pub(crate) fn encode_params(params: &[QueryParam]) -> Result<Vec<Value>> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| match p {
            QueryParam::Float(f) if !f.is_finite() => Err(Error::Param {
                index: i + 1,
                message: format!("{f} cannot be sent"),
            }),
            other => other
                .to_param()
                .map(|p| p.to_json())
                .map_err(|e| Error::Param {
                    index: i + 1,
                    message: e.to_string(),
                }),
        })
        .collect()
}

impl KalamClient {
    /// Runs SQL and returns the untyped response, as the official SDK does (`params` bind
    /// `$1..$n`; `namespace` overrides the default namespace). Error envelopes are returned
    /// as [`Error`]. For typed rows use [`KalamClient::query`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use kalam_client::{AuthProvider, KalamClient, QueryParam};
    /// let client = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
    ///     .build()?;
    /// let response = client
    ///     .execute_query("SELECT $1 AS greeting", Some(vec![QueryParam::from("hi")]), None)
    ///     .await?;
    /// let rows = response.results[0].rows.as_ref().unwrap();
    /// assert_eq!(rows[0][0], "hi");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn execute_query(
        &self,
        sql: &str,
        params: Option<Vec<QueryParam>>,
        namespace: Option<&str>,
    ) -> Result<QueryResponse> {
        let params = params.as_deref().unwrap_or_default();
        let params = encode_params(params)?;
        crate::sqltext::check_count(sql, params.len())?;
        let body = post_sql(&self.inner, sql, &params, namespace).await?;
        untyped_response(&body)
    }
}

/// Parses a 2xx SQL answer into the untyped response; an error envelope becomes `Err`.
pub(crate) fn untyped_response(body: &[u8]) -> Result<QueryResponse> {
    let response: QueryResponse = serde_json::from_slice(body)
        .map_err(|e| Error::Protocol(format!("malformed SQL response: {e}")))?;
    if let Some(detail) = response.error {
        return Err(detail.into_error());
    }
    if response.status == ResponseStatus::Error {
        return Err(Error::Protocol(
            "error response without an error object".to_owned(),
        ));
    }
    Ok(response)
}

/// A statement's bound parameters. A value that cannot be encoded holds its place as NULL,
/// and the first such failure (with its 1-based index) is kept and reported when the
/// statement runs, so that binding stays infallible and chainable.
#[derive(Debug, Default)]
pub(crate) struct Params {
    values: Vec<QueryParam>,
    error: Option<Error>,
}

impl Params {
    /// Binds `value` as the next parameter.
    pub(crate) fn bind<V: ToParam>(&mut self, value: V) {
        self.push(value.to_param());
    }

    /// Binds a value already encoded (or its encoding error) as the next parameter.
    pub(crate) fn push(&mut self, encoded: std::result::Result<QueryParam, EncodeError>) {
        match encoded {
            Ok(p) => self.values.push(p),
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(Error::Param {
                        index: self.values.len() + 1,
                        message: e.to_string(),
                    });
                }
                self.values.push(QueryParam::Null);
            }
        }
    }

    /// The parameters bound so far.
    pub(crate) fn values(&self) -> &[QueryParam] {
        &self.values
    }

    /// Replaces the parameters (the official SDK's calls pass them as a list).
    #[cfg(feature = "file-uploads")]
    pub(crate) fn set(&mut self, values: Vec<QueryParam>) {
        self.values = values;
        self.error = None;
    }

    /// The JSON values to send for `sql`, or the first parameter that could not be bound or
    /// sent, or an [`Error::Param`] when their number does not fit the placeholders of `sql`.
    pub(crate) fn encode(self, sql: &str) -> Result<Vec<Value>> {
        match self.error {
            Some(e) => Err(e),
            None => {
                crate::sqltext::check_count(sql, self.values.len())?;
                encode_params(&self.values)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_skip_comments_and_parens() {
        assert_eq!(first_keyword("  select 1"), "SELECT");
        assert_eq!(first_keyword("-- hi\n/* x */ (SELECT 1)"), "SELECT");
        assert_eq!(first_keyword("INSERT INTO t VALUES (1)"), "INSERT");
        assert_eq!(first_keyword("EXECUTE AS USER 'a' (SELECT 1)"), "EXECUTE");
        assert_eq!(first_keyword(""), "");
        assert!(is_idempotent_read("SHOW"));
        assert!(!is_idempotent_read("UPDATE"));
    }

    #[test]
    fn excerpts_are_short() {
        let long = "SELECT ".to_owned() + &"x, ".repeat(100);
        let e = statement_excerpt(&long);
        assert!(e.chars().count() <= 121);
        assert_eq!(statement_excerpt("SELECT\n  1"), "SELECT 1");
    }

    #[test]
    fn bad_params_are_named() {
        let err = encode_params(&[QueryParam::Int(1), QueryParam::Float(f64::NAN)]).unwrap_err();
        assert!(matches!(err, Error::Param { index: 2, .. }));
        let mut params = Params::default();
        params.bind(1);
        params.push(Err(EncodeError::new("not this one")));
        params.push(Err(EncodeError::new("nor this one")));
        assert_eq!(params.values().len(), 3);
        assert!(matches!(params.values()[1], QueryParam::Null));
        let Err(Error::Param { index, message }) = params.encode("SELECT $1, $2, $3") else {
            panic!("expected the first binding error");
        };
        assert_eq!((index, message.as_str()), (2, "not this one"));
    }
}
