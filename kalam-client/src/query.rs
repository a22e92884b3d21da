//! [`Query`]: a statement with bound parameters, fetched into typed rows.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use crate::client::KalamClient;
use crate::decode::FromCell;
use crate::encode::{QueryParam, ToParam};
use crate::fetch::{
    Fetch, FetchStream, decode_all, decode_count, decode_first, decode_one, decode_scalar,
};
use crate::paging::{Pager, Statement, Verb};
use crate::row::KalamRow;
use crate::sql::Params;

/// A statement with its parameters; run it with a fetch verb.
///
/// `T` is the row type for [`fetch_all`](Query::fetch_all) and friends (a [`KalamRow`]), or
/// the value type for [`fetch_scalar`](Query::fetch_scalar) (a [`FromCell`]).
/// [`execute`](Query::execute) works for any `T`; `()` reads well there.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::start().await?;
/// use kalam_client::{AuthProvider, KalamClient};
/// let client = KalamClient::builder()
///     .base_url(emulator.url())
///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
///     .build()?;
/// let pairs: Vec<(i64, String)> = client
///     .query("SELECT $1 AS n, $2 AS s")
///     .bind(7)
///     .bind("seven")
///     .fetch_all()
///     .await?;
/// assert_eq!(pairs, vec![(7, "seven".to_owned())]);
/// # Ok(())
/// # }
/// ```
#[must_use = "a query does nothing until a fetch verb runs it"]
pub struct Query<T> {
    prepared: Prepared,
    _row: PhantomData<fn() -> T>,
}

/// Everything of a [`Query`] but its row type, so that the request is compiled once, not
/// once per row type (see [`Fetch`]).
struct Prepared {
    client: KalamClient,
    sql: Cow<'static, str>,
    params: Params,
    namespace: Option<String>,
}

impl Prepared {
    /// The requests of `verb`, without the row type: one pager type for every row type.
    fn pager(self, verb: Verb) -> Pager {
        Pager::new(
            Statement {
                client: self.client,
                sql: self.sql,
                params: self.params,
                namespace: self.namespace,
            },
            verb,
        )
    }
}

impl<T> fmt::Debug for Query<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.prepared;
        f.debug_struct("Query")
            .field("sql", &crate::sqltext::redact_secrets(&p.sql))
            .field("params", &p.params.values().len())
            .field("namespace", &p.namespace)
            .finish_non_exhaustive()
    }
}

impl KalamClient {
    /// Prepares a statement whose rows decode into `T`.
    pub fn query<T>(&self, sql: impl Into<Cow<'static, str>>) -> Query<T> {
        Query {
            prepared: Prepared {
                client: self.clone(),
                sql: sql.into(),
                params: Params::default(),
                namespace: None,
            },
            _row: PhantomData,
        }
    }

    /// Same as [`KalamClient::query`] (the sqlx spelling for a caller's own row type).
    pub fn query_as<T>(&self, sql: impl Into<Cow<'static, str>>) -> Query<T> {
        self.query(sql)
    }

    /// Prepares `sql` to run as another user (`EXECUTE AS USER`, protocol 7.7): USER tables
    /// are read and written in that user's partition. Needs a `dba`/`system` caller (or a
    /// `service` one, for `user` targets). `sql` must be one statement.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use kalam_client::{AuthProvider, KalamClient};
    /// let admin = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
    ///     .build()?;
    /// let who: String = admin.execute_as_user("alice", "SELECT CURRENT_USER()").fetch_scalar().await?;
    /// assert_eq!(who, "alice");
    /// # Ok(())
    /// # }
    /// ```
    pub fn execute_as_user<T>(&self, user: &str, sql: &str) -> Query<T> {
        let body = sql.trim().trim_end_matches(';').trim_end();
        let user = user.replace('\'', "''");
        self.query(format!("EXECUTE AS USER '{user}' ({body})"))
    }
}

impl<T> Query<T> {
    /// Binds the next `$n` parameter.
    pub fn bind<V: ToParam>(mut self, value: V) -> Self {
        self.prepared.params.bind(value);
        self
    }

    /// Sets every parameter at once (a checked query's, bound by its `Statement`).
    pub(crate) fn with_params(mut self, params: Params) -> Self {
        self.prepared.params = params;
        self
    }

    /// Runs with this namespace for unqualified table names (instead of the client's).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.prepared.namespace = Some(namespace.into());
        self
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.prepared.sql
    }

    /// The bound parameters.
    pub fn params(&self) -> &[QueryParam] {
        self.prepared.params.values()
    }

    /// The requests of `verb` without the row type (for the checked macros' verbs).
    pub(crate) fn pager(self, verb: Verb) -> Pager {
        self.prepared.pager(verb)
    }

    /// Runs the statement(s) as written and returns the rows affected (the sum of
    /// `row_count` over all results; for a query, the rows returned).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// # let client = kalam_client::KalamClient::builder()
    /// #     .base_url(emulator.url())
    /// #     .auth(kalam_client::AuthProvider::basic_auth("admin", "AdminPass123!"))
    /// #     .build()?;
    /// client.query::<()>("CREATE NAMESPACE IF NOT EXISTS shop").execute().await?;
    /// client
    ///     .query::<()>("CREATE TABLE IF NOT EXISTS shop.items (id BIGINT PRIMARY KEY, name TEXT) WITH (TYPE = 'SHARED')")
    ///     .execute()
    ///     .await?;
    /// let inserted = client
    ///     .query::<()>("INSERT INTO shop.items (id, name) VALUES ($1, $2), ($3, $4)")
    ///     .bind(1).bind("pen").bind(2).bind("ink")
    ///     .execute()
    ///     .await?;
    /// assert_eq!(inserted, 2);
    /// let missing: Option<(String,)> = client
    ///     .query("SELECT name FROM shop.items WHERE id = $1")
    ///     .bind(3)
    ///     .fetch_optional()
    ///     .await?;
    /// assert!(missing.is_none());
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn execute(self) -> Fetch<'static, u64> {
        Fetch {
            pager: self.prepared.pager(Verb::Execute),
            decode: decode_count,
            out: None,
            _client: PhantomData,
        }
    }

    /// Runs the query and returns the first column of the first row, in the order asked.
    /// No row is [`Error::RowNotFound`]; a NULL needs `T = Option<_>`. Every row is
    /// decoded, so a bad later row is an error too.
    #[inline]
    pub fn fetch_scalar(self) -> Fetch<'static, T>
    where
        T: FromCell,
    {
        Fetch {
            pager: self.prepared.pager(Verb::First),
            decode: decode_scalar::<T>,
            out: None,
            _client: PhantomData,
        }
    }
}

// The verbs return a [`Fetch`] rather than being `async fn`s: see the `fetch` module for why.
// They are `#[inline]` so that release builds fold them into the caller instead of keeping
// one small function per row type (see BENCHMARKS.md, kalam-macros, session 13).
impl<T: KalamRow> Query<T> {
    /// Runs the query and returns every row, in the order asked. KalamDB adds `LIMIT 50`
    /// to a SELECT without one and cuts every result at `max_query_limit` rows; this asks
    /// for the cap explicitly and, when a result reaches it, reads the rest in pages by
    /// primary key, or returns [`Error::Truncated`] when that cannot be done exactly (see the
    /// README, "Row limits and ordering"). A query's own `LIMIT` up to the cap is kept. Use
    /// [`fetch`](Query::fetch) to stream large results.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// # let client = kalam_client::KalamClient::builder()
    /// #     .base_url(emulator.url())
    /// #     .auth(kalam_client::AuthProvider::basic_auth("admin", "AdminPass123!"))
    /// #     .build()?;
    /// client.query::<()>("CREATE NAMESPACE IF NOT EXISTS tracker").execute().await?;
    /// client.query::<()>("CREATE USER TABLE tracker.tasks (id BIGINT PRIMARY KEY, title TEXT)").execute().await?;
    /// let values: Vec<String> = (1..=60).map(|i| format!("({i}, 'task {i}')")).collect();
    /// client.query::<()>(format!("INSERT INTO tracker.tasks (id, title) VALUES {}", values.join(", "))).execute().await?;
    ///
    /// let all: Vec<(i64, String)> = client.query("SELECT id, title FROM tracker.tasks").fetch_all().await?;
    /// assert_eq!(all.len(), 60);
    /// let last: Vec<(i64,)> = client.query("SELECT id FROM tracker.tasks ORDER BY id DESC LIMIT 3").fetch_all().await?;
    /// assert_eq!(last, [(60,), (59,), (58,)]);
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn fetch_all(self) -> Fetch<'static, Vec<T>> {
        Fetch {
            pager: self.prepared.pager(Verb::All),
            decode: decode_all::<T>,
            out: None,
            _client: PhantomData,
        }
    }

    /// Streams every row of the query, one page at a time: the rows of
    /// [`fetch_all`](Query::fetch_all), with memory for one page (at most
    /// `max_query_limit` rows) instead of the whole result.
    #[inline]
    pub fn fetch(self) -> FetchStream<'static, T> {
        FetchStream {
            pager: self.prepared.pager(Verb::All),
            rows: Vec::new().into_iter(),
            done: false,
            _client: PhantomData,
        }
    }

    /// Runs the query and returns the first row, or [`Error::RowNotFound`]. Every row is
    /// decoded, so a bad later row is an error too. The order asked for is kept (see
    /// [`fetch_all`](Query::fetch_all)), so `ORDER BY … LIMIT 1` gives the right row.
    #[inline]
    pub fn fetch_one(self) -> Fetch<'static, T> {
        Fetch {
            pager: self.prepared.pager(Verb::First),
            decode: decode_one::<T>,
            out: None,
            _client: PhantomData,
        }
    }

    /// Runs the query and returns the first row, if any. Every row is decoded, so a bad
    /// later row is an error too.
    #[inline]
    pub fn fetch_optional(self) -> Fetch<'static, Option<T>> {
        Fetch {
            pager: self.prepared.pager(Verb::First),
            decode: decode_first::<T>,
            out: None,
            _client: PhantomData,
        }
    }
}
