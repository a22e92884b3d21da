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
use crate::row::{KalamRow, Row};
use crate::sql::Params;

/// A statement with its parameters; run it with a fetch verb that takes the client.
///
/// Made by [`query`] (a statement, or rows as [`Row`]s) and [`query_as`] (rows decoded into
/// `T`). `T` is the row type for [`fetch_all`](Query::fetch_all) and friends (a
/// [`KalamRow`]), or the value type for [`fetch_scalar`](Query::fetch_scalar) (a
/// [`FromCell`]); [`execute`](Query::execute) works for any `T`. The client comes last, as in
/// the checked macros (`query!(…).fetch_all(&client)`) and in sqlx: one calling style for
/// both, and a query can be prepared before a client exists.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::start().await?;
/// use kalam_client::{AuthProvider, KalamClient, query_as};
/// let client = KalamClient::builder()
///     .base_url(emulator.url())
///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
///     .build()?;
/// let pairs: Vec<(i64, String)> = query_as("SELECT $1 AS n, $2 AS s")
///     .bind(7)
///     .bind("seven")
///     .fetch_all(&client)
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
    sql: Cow<'static, str>,
    /// Byte ranges of the namespace identifiers in `sql` (a checked statement's), renamed by
    /// the client's namespace mapping when the query is sent.
    namespace_refs: &'static [(u32, u32)],
    /// The `EXECUTE AS USER` target, written around `sql` when the query is sent.
    as_user: Option<String>,
    params: Params,
    namespace: Option<String>,
}

impl Prepared {
    /// The requests of `verb` on `client`, without the row type: one pager type for every
    /// row type.
    fn pager(self, client: &KalamClient, verb: Verb) -> Pager {
        let mut sql = client
            .inner
            .namespaces
            .rewrite(self.sql, self.namespace_refs);
        if let Some(user) = &self.as_user {
            sql = Cow::Owned(execute_as_sql(user, &sql));
        }
        Pager::new(
            Statement {
                client: client.clone(),
                sql,
                params: self.params,
                namespace: self.namespace,
            },
            verb,
        )
    }
}

/// `sql` (one statement) run as `user`.
fn execute_as_sql(user: &str, sql: &str) -> String {
    let body = sql.trim().trim_end_matches(';').trim_end();
    format!("EXECUTE AS USER '{}' ({body})", user.replace('\'', "''"))
}

impl<T> fmt::Debug for Query<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.prepared;
        f.debug_struct("Query")
            .field("sql", &crate::sqltext::redact_secrets(&p.sql))
            .field("params", &p.params.values().len())
            .field("as_user", &p.as_user)
            .field("namespace", &p.namespace)
            .finish_non_exhaustive()
    }
}

/// Prepares a statement: run it with [`execute`](Query::execute), or read its rows as
/// untyped [`Row`]s. For typed rows use [`query_as`]; for queries checked at compile time,
/// the `query!` macro.
///
/// SQL is taken as anything that turns into a `String` (`&str`, `String`, `&String`), so
/// `query(&format!(…))` works. Runtime SQL is sent as written: use `$1`, `$2`, … with
/// [`bind`](Query::bind) for values.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::start().await?;
/// use kalam_client::{AuthProvider, KalamClient, query};
/// let client = KalamClient::builder()
///     .base_url(emulator.url())
///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
///     .build()?;
/// query("CREATE NAMESPACE IF NOT EXISTS shop").execute(&client).await?;
/// let table = "shop.items";
/// query(&format!("CREATE TABLE IF NOT EXISTS {table} (id BIGINT PRIMARY KEY, name TEXT) WITH (TYPE = 'SHARED')"))
///     .execute(&client)
///     .await?;
/// let inserted = query("INSERT INTO shop.items (id, name) VALUES ($1, $2)")
///     .bind(1)
///     .bind("pen")
///     .execute(&client)
///     .await?;
/// assert_eq!(inserted, 1);
/// let rows = query("SELECT * FROM shop.items").fetch_all(&client).await?;
/// assert_eq!(rows[0].get::<String, _>("name"), "pen");
/// # Ok(())
/// # }
/// ```
pub fn query(sql: impl Into<String>) -> Query<Row> {
    query_as(sql)
}

/// Prepares a query whose rows decode into `T`: a [`KalamRow`] (a derived struct, a tuple,
/// [`Row`]) for [`fetch_all`](Query::fetch_all) and friends, or a [`FromCell`] value for
/// [`fetch_scalar`](Query::fetch_scalar). `T` is usually inferred from where the result goes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::start().await?;
/// use kalam_client::{AuthProvider, KalamClient, KalamRow, query_as};
/// let client = KalamClient::builder()
///     .base_url(emulator.url())
///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
///     .build()?;
/// #[derive(Debug, KalamRow)]
/// struct Sum { total: i64 }
/// let sum = query_as::<Sum>("SELECT $1 + $2 AS total")
///     .bind(2)
///     .bind(3)
///     .fetch_one(&client)
///     .await?;
/// assert_eq!(sum.total, 5);
/// let n: i64 = query_as("SELECT 42").fetch_scalar(&client).await?;
/// assert_eq!(n, 42);
/// # Ok(())
/// # }
/// ```
pub fn query_as<T>(sql: impl Into<String>) -> Query<T> {
    Query::from_parts(Cow::Owned(sql.into()), &[])
}

impl<T> Query<T> {
    /// A query of `sql` whose namespace identifiers are at `namespace_refs`.
    pub(crate) fn from_parts(
        sql: Cow<'static, str>,
        namespace_refs: &'static [(u32, u32)],
    ) -> Query<T> {
        Query {
            prepared: Prepared {
                sql,
                namespace_refs,
                as_user: None,
                params: Params::default(),
                namespace: None,
            },
            _row: PhantomData,
        }
    }

    /// Runs the statement as another user (`EXECUTE AS USER`, protocol 7.7): USER tables
    /// are read and written in that user's partition. Needs a `dba`/`system` caller (or a
    /// `service` one, for `user` targets). The SQL must be one statement.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use kalam_client::{AuthProvider, KalamClient, query_as};
    /// let admin = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
    ///     .build()?;
    /// let who: String = query_as("SELECT CURRENT_USER()")
    ///     .as_user("alice")
    ///     .fetch_scalar(&admin)
    ///     .await?;
    /// assert_eq!(who, "alice");
    /// # Ok(())
    /// # }
    /// ```
    pub fn as_user(mut self, user: impl Into<String>) -> Self {
        self.prepared.as_user = Some(user.into());
        self
    }

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

    /// The user the statement runs as ([`Query::as_user`]).
    pub fn user(&self) -> Option<&str> {
        self.prepared.as_user.as_deref()
    }

    /// The requests of `verb` without the row type (for the checked macros' verbs).
    pub(crate) fn pager(self, client: &KalamClient, verb: Verb) -> Pager {
        self.prepared.pager(client, verb)
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
    /// kalam_client::query("CREATE NAMESPACE IF NOT EXISTS shop").execute(&client).await?;
    /// kalam_client::query("CREATE TABLE IF NOT EXISTS shop.items (id BIGINT PRIMARY KEY, name TEXT) WITH (TYPE = 'SHARED')")
    ///     .execute(&client)
    ///     .await?;
    /// let inserted = kalam_client::query("INSERT INTO shop.items (id, name) VALUES ($1, $2), ($3, $4)")
    ///     .bind(1).bind("pen").bind(2).bind("ink")
    ///     .execute(&client)
    ///     .await?;
    /// assert_eq!(inserted, 2);
    /// let missing: Option<(String,)> = kalam_client::query_as("SELECT name FROM shop.items WHERE id = $1")
    ///     .bind(3)
    ///     .fetch_optional(&client)
    ///     .await?;
    /// assert!(missing.is_none());
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn execute(self, client: &KalamClient) -> Fetch<'static, u64> {
        Fetch {
            pager: self.prepared.pager(client, Verb::Execute),
            decode: decode_count,
            out: None,
            _client: PhantomData,
        }
    }

    /// Runs the query and returns the first column of the first row, in the order asked.
    /// No row is [`Error::RowNotFound`]; a NULL needs `T = Option<_>`. Every row is
    /// decoded, so a bad later row is an error too.
    #[inline]
    pub fn fetch_scalar(self, client: &KalamClient) -> Fetch<'static, T>
    where
        T: FromCell,
    {
        Fetch {
            pager: self.prepared.pager(client, Verb::First),
            decode: decode_scalar::<T>,
            out: None,
            _client: PhantomData,
        }
    }
}

// The verbs return a [`Fetch`] rather than being `async fn`s: see the `fetch` module for why.
// They are `#[inline]` so that release builds fold them into the caller instead of keeping
// one small function per row type (see BENCHMARKS.md, kalam-macros).
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
    /// kalam_client::query("CREATE NAMESPACE IF NOT EXISTS tracker").execute(&client).await?;
    /// kalam_client::query("CREATE USER TABLE tracker.tasks (id BIGINT PRIMARY KEY, title TEXT)").execute(&client).await?;
    /// let values: Vec<String> = (1..=60).map(|i| format!("({i}, 'task {i}')")).collect();
    /// kalam_client::query(format!("INSERT INTO tracker.tasks (id, title) VALUES {}", values.join(", "))).execute(&client).await?;
    ///
    /// let all: Vec<(i64, String)> = kalam_client::query_as("SELECT id, title FROM tracker.tasks").fetch_all(&client).await?;
    /// assert_eq!(all.len(), 60);
    /// let last: Vec<(i64,)> = kalam_client::query_as("SELECT id FROM tracker.tasks ORDER BY id DESC LIMIT 3").fetch_all(&client).await?;
    /// assert_eq!(last, [(60,), (59,), (58,)]);
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn fetch_all(self, client: &KalamClient) -> Fetch<'static, Vec<T>> {
        Fetch {
            pager: self.prepared.pager(client, Verb::All),
            decode: decode_all::<T>,
            out: None,
            _client: PhantomData,
        }
    }

    /// Streams every row of the query, one page at a time: the rows of
    /// [`fetch_all`](Query::fetch_all), with memory for one page (at most
    /// `max_query_limit` rows) instead of the whole result.
    #[inline]
    pub fn fetch(self, client: &KalamClient) -> FetchStream<'static, T> {
        FetchStream {
            pager: self.prepared.pager(client, Verb::All),
            rows: Vec::new().into_iter(),
            done: false,
            _client: PhantomData,
        }
    }

    /// Runs the query and returns the first row, or [`Error::RowNotFound`]. Every row is
    /// decoded, so a bad later row is an error too. The order asked for is kept (see
    /// [`fetch_all`](Query::fetch_all)), so `ORDER BY … LIMIT 1` gives the right row.
    #[inline]
    pub fn fetch_one(self, client: &KalamClient) -> Fetch<'static, T> {
        Fetch {
            pager: self.prepared.pager(client, Verb::First),
            decode: decode_one::<T>,
            out: None,
            _client: PhantomData,
        }
    }

    /// Runs the query and returns the first row, if any. Every row is decoded, so a bad
    /// later row is an error too.
    #[inline]
    pub fn fetch_optional(self, client: &KalamClient) -> Fetch<'static, Option<T>> {
        Fetch {
            pager: self.prepared.pager(client, Verb::First),
            decode: decode_first::<T>,
            out: None,
            _client: PhantomData,
        }
    }
}
