//! [`SqlSource`] over KalamDB's HTTP API: login (protocol 2.2) and `POST /v1/api/sql` (1.2–1.4).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::SourceError;
use crate::introspect::{ResultSet, SqlSource};

/// How to authenticate.
#[derive(Clone)]
pub enum Credentials {
    /// An access JWT, sent as `Authorization: Bearer …`.
    Token(String),
    /// User and password, exchanged for a JWT at `/v1/api/auth/login`.
    Password {
        /// User id.
        user: String,
        /// Password.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token(..)"),
            Credentials::Password { user, .. } => write!(f, "Password {{ user: {user:?}, .. }}"),
        }
    }
}

/// Runs introspection queries against a KalamDB server (or the emulator).
///
/// ```no_run
/// # async fn demo() -> Result<(), kalam_codegen::Error> {
/// use kalam_codegen::{Credentials, HttpSource, TableFilter, introspect};
/// let mut source = HttpSource::connect(
///     "http://127.0.0.1:8080",
///     Credentials::Password { user: "admin".into(), password: "secret".into() },
/// ).await?;
/// let catalog = introspect::pull_catalog(&mut source, &TableFilter::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpSource {
    client: reqwest::Client,
    base: String,
    token: String,
}

#[derive(Deserialize)]
struct LoginReply {
    access_token: String,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    results: Vec<ResultJson>,
    #[serde(default)]
    error: Option<ErrorJson>,
}

#[derive(Deserialize)]
struct ResultJson {
    #[serde(default)]
    schema: Vec<FieldJson>,
    #[serde(default)]
    rows: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
struct FieldJson {
    name: String,
}

#[derive(Deserialize)]
struct ErrorJson {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl HttpSource {
    /// Logs in if needed and returns a source for `base` (`http://host:port`).
    pub async fn connect(base: &str, credentials: Credentials) -> Result<HttpSource, SourceError> {
        let base = base.trim_end_matches('/').to_owned();
        if reqwest::Url::parse(&base).is_err() {
            return Err(SourceError::Url(base));
        }
        let client = reqwest::Client::new();
        let token = match credentials {
            Credentials::Token(token) => token,
            Credentials::Password { user, password } => {
                let url = format!("{base}/v1/api/auth/login");
                let http = |source| SourceError::Http {
                    url: url.clone(),
                    source,
                };
                let reply = client
                    .post(&url)
                    .json(&json!({ "user": user, "password": password }))
                    .send()
                    .await
                    .map_err(http)?;
                let status = reply.status();
                let body = reply.text().await.map_err(http)?;
                if !status.is_success() {
                    return Err(SourceError::Login {
                        user,
                        status: status.as_u16(),
                        body,
                    });
                }
                serde_json::from_str::<LoginReply>(&body)
                    .map_err(|e| SourceError::Login {
                        user,
                        status: status.as_u16(),
                        body: format!("unreadable login reply: {e}"),
                    })?
                    .access_token
            }
        };
        Ok(HttpSource {
            client,
            base,
            token,
        })
    }

    async fn run(&self, sql: &str) -> Result<ResultSet, SourceError> {
        let url = format!("{}/v1/api/sql", self.base);
        let http = |source| SourceError::Http {
            url: url.clone(),
            source,
        };
        let reply = self
            .client
            .post(&url)
            .bearer_auth(&self.token)
            .json(&json!({ "sql": sql }))
            .send()
            .await
            .map_err(http)?;
        let status = reply.status();
        let body = reply.text().await.map_err(http)?;
        let envelope: Result<Envelope, _> = serde_json::from_str(&body);
        let failed = |message: String| SourceError::Sql {
            sql: sql.to_owned(),
            status: status.as_u16(),
            message,
        };
        let envelope = match envelope {
            Ok(e) => e,
            Err(_) if !status.is_success() => return Err(failed(body)),
            Err(e) => {
                return Err(SourceError::Response {
                    sql: sql.to_owned(),
                    message: e.to_string(),
                });
            }
        };
        if let Some(err) = envelope.error {
            return Err(failed(format!("{}: {}", err.code, err.message)));
        }
        if !status.is_success() {
            return Err(failed(body));
        }
        let Some(result) = envelope.results.into_iter().next() else {
            return Err(SourceError::Response {
                sql: sql.to_owned(),
                message: "no result set".into(),
            });
        };
        Ok(ResultSet {
            columns: result.schema.into_iter().map(|f| f.name).collect(),
            rows: result.rows,
        })
    }
}

impl SqlSource for HttpSource {
    fn query(
        &mut self,
        sql: &str,
    ) -> impl std::future::Future<Output = Result<ResultSet, SourceError>> + Send {
        let this = self.clone();
        let sql = sql.to_owned();
        async move { this.run(&sql).await }
    }
}
