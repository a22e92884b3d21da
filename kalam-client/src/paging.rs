//! [`Pager`]: the requests behind every fetch verb, and what to send next after each page.
//!
//! KalamDB adds `LIMIT 50` to a SELECT without one, cuts every result at `max_query_limit`
//! rows (1000) without saying so, and re-sorts by primary key a query whose outermost plan
//! node is not a sort (protocol 1.3 step 9). So a query is analysed first
//! ([`kalam_schema::query_shape`]) and rewritten ([`crate::rewrite`]):
//!
//! - `fetch_all`/`fetch` send an explicit `LIMIT <cap>` (the common case stays one request).
//!   Fewer rows than the cap: the result is complete. The cap reached: one table, no
//!   grouping, `DISTINCT`, window or set operation, ordered by nothing or by its primary key
//!   → keyset pages by `(<key>, _seq)` (below) until a
//!   page is short; anything else → [`Error::Truncated`]. A user's `LIMIT` up to the cap is
//!   left alone; a larger one is the cap, paged, stopping after that many rows.
//! - Every verb repeats a top-level `ORDER BY` around the query when the server would
//!   otherwise re-sort.
//!
//! A key can repeat within one result: a caller for whom the server reads every user's
//! partition of a USER table (an admin, see the README) meets each user's row with that key.
//! So pages are ordered by the key and then by `_seq` (unique per row version), and continue
//! after the pair `(key, _seq)` of the last row read:
//! `WHERE (<filter>) AND (<key> > <k> OR (<key> = <k> AND _seq > <s>))`. Once paging starts,
//! it starts from the first row (the first page, read without `_seq`, is read again), so the
//! rows come in one consistent order.
//!
//! The pager is not generic: it hands out response bodies and takes back what the
//! per-row-type decoder found in them ([`PageInfo`]), so its code is compiled once.

use std::borrow::Cow;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use kalam_schema::{Bound, ItemKind, OrderKey, QueryShape, SelectShape, SqlType};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::client::KalamClient;
use crate::envelope::{PageInfo, PageOpts};
use crate::error::{Error, Result};
use crate::fetch::BodyFuture;
use crate::rewrite::{self, After, HIDDEN_KEY, HIDDEN_PREFIX, HIDDEN_SEQ, Spec};
use crate::sql::{Params, post_sql, statement_excerpt, untyped_response};
use crate::wire::SchemaField;

/// What a verb reads of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    /// Sent as written (`execute`).
    Execute,
    /// The first rows, in the order asked (`fetch_one`, `fetch_optional`, `fetch_scalar`).
    First,
    /// Every row, in the order asked (`fetch_all`, `fetch`).
    All,
}

/// A response body and how to read it.
pub(crate) struct Page {
    pub(crate) body: Bytes,
    pub(crate) opts: PageOpts,
}

/// The statement as prepared by the query builders.
pub(crate) struct Statement {
    pub(crate) client: KalamClient,
    pub(crate) sql: Cow<'static, str>,
    pub(crate) params: Params,
    pub(crate) namespace: Option<String>,
}

/// Sends the requests of one verb, one page at a time (see the module docs).
pub(crate) struct Pager {
    verb: Verb,
    statement: Option<Statement>,
    conn: Option<Conn>,
    plan: Option<Box<Plan>>,
    state: State,
}

/// What every request of a verb shares.
struct Conn {
    client: KalamClient,
    params: Arc<[Value]>,
    namespace: Option<String>,
    /// The statement as the user wrote it, for errors that name it.
    sql: Cow<'static, str>,
}

enum State {
    /// Nothing sent yet.
    Idle,
    Sending(BodyFuture<'static>, PageOpts),
    /// Reading the table's schema to find its primary key.
    Probing(BodyFuture<'static>),
    /// A page was handed out; [`Pager::advance`] says what comes next.
    Reading,
    Failed(Error),
    Done,
}

/// A query that may need more pages.
struct Plan {
    sql: Cow<'static, str>,
    shape: QueryShape,
    cap: u64,
    /// A user's `LIMIT` above the cap: stop after this many rows.
    target: Option<u64>,
    offset: Option<u64>,
    /// Rows handed out by the pages read so far.
    delivered: u64,
    keyset: Option<Keyset>,
}

/// Keyset paging: the condition, where the key is in each page, the last key read.
struct Keyset {
    /// The key as the `WHERE` clause writes it.
    expr: String,
    descending: bool,
    /// The output column holding the key.
    read: ReadAt,
    /// `ORDER BY <key>` to add (the query has no `ORDER BY`).
    order_by: Option<String>,
    /// The key column to add as a hidden column (it is not in the output).
    key_column: Option<String>,
    /// Whether `_seq` breaks ties between equal keys (not when the key is `_seq` itself).
    tiebreak: bool,
    /// The literals of the last key and `_seq` read.
    last: Option<(String, Option<String>)>,
}

enum ReadAt {
    Name(String),
    Index(usize),
}

impl Pager {
    pub(crate) fn new(statement: Statement, verb: Verb) -> Pager {
        Pager {
            verb,
            statement: Some(statement),
            conn: None,
            plan: None,
            state: State::Idle,
        }
    }

    /// The next page to decode; `None` when the verb has read everything.
    pub(crate) fn poll_page(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Page>>> {
        loop {
            match &mut self.state {
                State::Idle => self.begin(),
                State::Sending(body, opts) => {
                    let opts = *opts;
                    return match body.as_mut().poll(cx) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(Ok(body)) => {
                            self.state = State::Reading;
                            Poll::Ready(Ok(Some(Page { body, opts })))
                        }
                        Poll::Ready(Err(e)) => {
                            self.state = State::Done;
                            Poll::Ready(Err(e))
                        }
                    };
                }
                State::Probing(body) => match body.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(body)) => {
                        let next = self.probed(&body);
                        self.go(next);
                    }
                    Poll::Ready(Err(e)) => {
                        self.state = State::Done;
                        return Poll::Ready(Err(e));
                    }
                },
                State::Reading => {
                    self.state = State::Done;
                    return Poll::Ready(Err(Error::Protocol(
                        "a page was not read before the next one".to_owned(),
                    )));
                }
                State::Failed(_) => {
                    return match std::mem::replace(&mut self.state, State::Done) {
                        State::Failed(e) => Poll::Ready(Err(e)),
                        _ => Poll::Ready(Ok(None)),
                    };
                }
                State::Done => return Poll::Ready(Ok(None)),
            }
        }
    }

    /// Takes what the decoder found in the page just handed out. Returns true when the rows
    /// decoded so far must be dropped (paging restarts from the first key).
    pub(crate) fn advance(&mut self, info: PageInfo) -> bool {
        let Some(plan) = self.plan.as_mut() else {
            self.state = State::Done;
            return false;
        };
        // Paging starts again from the first row: without ORDER BY the first page held
        // arbitrary rows, and with one it was not ordered by `_seq` among equal keys.
        let paging = plan.keyset.is_some();
        let next = plan.after_page(info);
        let restart = !paging && matches!(next, Next::Page(..) | Next::Probe(_));
        self.go(next);
        restart
    }

    /// The first request.
    fn begin(&mut self) {
        let Some(Statement {
            client,
            sql,
            params,
            namespace,
        }) = self.statement.take()
        else {
            self.state = State::Done;
            return;
        };
        let params: Arc<[Value]> = match params.encode(&sql) {
            Ok(p) => p.into(),
            Err(e) => {
                self.state = State::Failed(e);
                return;
            }
        };
        let cap = client.inner.max_query_limit;
        self.conn = Some(Conn {
            client,
            params,
            namespace,
            sql: sql.clone(),
        });
        let first = match self.verb {
            Verb::Execute => None,
            Verb::First | Verb::All => self.plan_first(&sql, cap),
        };
        let (text, opts) = match first {
            Some(Ok((built, opts))) => (built, opts),
            Some(Err(e)) => {
                self.state = State::Failed(e);
                return;
            }
            None => (sql.into_owned(), PageOpts::default()),
        };
        self.send(text, opts);
    }

    /// The first request of a query verb, when it differs from the SQL as written.
    #[allow(
        clippy::ptr_arg,
        reason = "the plan keeps a clone of the Cow, free for the `&'static str` of checked queries"
    )]
    fn plan_first(
        &mut self,
        sql: &Cow<'static, str>,
        cap: u64,
    ) -> Option<Result<(String, PageOpts)>> {
        // Without an ORDER BY there is nothing to fix for the first rows.
        if self.verb == Verb::First && !contains_order(sql) {
            return None;
        }
        let shape = match kalam_schema::query_shape(sql) {
            Ok(shape) => shape,
            Err(e) => {
                tracing::debug!(error = %e, "query not analysed, sent as written");
                return None;
            }
        };
        let q = shape.select.as_ref()?;
        let params = &self.conn.as_ref()?.params;
        let own_limit = || {
            let spec = Spec::default();
            let fix = rewrite::needs_order_fix(q, &spec);
            fix.then(|| {
                let built = rewrite::build(sql, &shape, q, &spec, true);
                let opts = PageOpts {
                    hidden: built.hidden,
                    ..PageOpts::default()
                };
                Ok((built.sql, opts))
            })
        };
        if self.verb == Verb::First {
            return own_limit();
        }
        let target = match q.limit {
            None | Some(Bound::All) => None,
            Some(b) => match resolve(b, params) {
                Some(n) if n > cap => Some(n),
                // The user's own limit, within the cap (or not known before it runs).
                _ => return own_limit(),
            },
        };
        let offset = match q.offset {
            None => None,
            Some(b) => match resolve(b, params) {
                Some(m) => Some(m),
                None => return own_limit(),
            },
        };
        let spec = Spec {
            limit: Some((cap, offset)),
            ..Spec::default()
        };
        let fix = rewrite::needs_order_fix(q, &spec);
        let built = rewrite::build(sql, &shape, q, &spec, fix);
        let opts = PageOpts {
            hidden: built.hidden,
            take: target,
            keep_last: true,
        };
        self.plan = Some(Box::new(Plan {
            sql: sql.clone(),
            shape,
            cap,
            target,
            offset,
            delivered: 0,
            keyset: None,
        }));
        Some(Ok((built.sql, opts)))
    }

    fn send(&mut self, sql: String, opts: PageOpts) {
        let Some(conn) = &self.conn else {
            self.state = State::Done;
            return;
        };
        self.state = State::Sending(request(conn, sql, Arc::clone(&conn.params)), opts);
    }

    fn go(&mut self, next: Next) {
        match next {
            Next::Done => self.state = State::Done,
            Next::Fail(e) => self.state = State::Failed(e),
            Next::Page(sql, opts) => self.send(sql, opts),
            Next::Probe(sql) => match &self.conn {
                Some(conn) => self.state = State::Probing(request(conn, sql, Arc::from([]))),
                None => self.state = State::Done,
            },
        }
    }

    /// The probe's answer: the table's primary key.
    fn probed(&mut self, body: &[u8]) -> Next {
        let Some(plan) = self.plan.as_mut() else {
            return Next::Done;
        };
        let key = untyped_response(body).and_then(|r| {
            let schema = r.results.into_iter().next().map(|r| r.schema);
            let schema = schema.unwrap_or_default();
            schema
                .iter()
                .find(|f| f.is_primary_key())
                .or_else(|| schema.iter().find(|f| f.name == "_seq"))
                .map(|f| f.name.clone())
                .ok_or_else(|| plan.truncated("its table has no primary key"))
                as Result<String>
        });
        match key {
            Ok(key) => plan.with_key(&key),
            Err(e) => Next::Fail(e),
        }
    }
}

/// What to do after a page.
enum Next {
    Done,
    Fail(Error),
    Page(String, PageOpts),
    Probe(String),
}

fn request(conn: &Conn, sql: String, params: Arc<[Value]>) -> BodyFuture<'static> {
    let client = conn.client.clone();
    let namespace = conn.namespace.clone();
    let written = conn.sql.clone();
    Box::pin(async move {
        let answer = post_sql(&client.inner, &sql, &params, namespace.as_deref()).await;
        if sql == *written {
            return answer;
        }
        // Name the statement the user wrote, not its rewrite.
        match answer {
            Err(Error::ConnectionClosed { source, .. }) => Err(Error::ConnectionClosed {
                statement: statement_excerpt(&written),
                source,
            }),
            Err(Error::Timeout { operation, after }) => Err(Error::Timeout {
                operation: operation
                    .replace(&statement_excerpt(&sql), &statement_excerpt(&written)),
                after,
            }),
            other => other,
        }
    })
}

/// A cheap test that spares the analysis of queries without an `ORDER BY` for the verbs
/// that only need their order fixed.
fn contains_order(sql: &str) -> bool {
    sql.as_bytes()
        .windows(5)
        .any(|w| w.eq_ignore_ascii_case(b"order"))
}

/// The value of a `LIMIT`/`OFFSET`, when known before the query runs.
fn resolve(bound: Bound, params: &[Value]) -> Option<u64> {
    match bound {
        Bound::Number(n) => Some(n),
        Bound::Param(k) => params.get(k.checked_sub(1)?)?.as_u64(),
        _ => None,
    }
}

impl Plan {
    fn q(&self) -> Option<&SelectShape> {
        self.shape.select.as_ref()
    }

    fn truncated(&self, why: &str) -> Error {
        Error::Truncated {
            limit: self.cap,
            reason: format!(
                "the client cannot page through it exactly, because {why}; add a LIMIT of at \
                 most {}, narrow the WHERE clause, or read one table ordered by its primary key",
                self.cap
            ),
        }
    }

    fn after_page(&mut self, info: PageInfo) -> Next {
        self.delivered += info.taken;
        if info.rows < self.cap || self.target.is_some_and(|t| self.delivered >= t) {
            return Next::Done;
        }
        if self.keyset.is_some() {
            return self.next_keyset_page(&info);
        }
        // The first page was full: page through the rest, if that can be done exactly.
        let Some(q) = self.q() else {
            return Next::Done;
        };
        if let Some(why) = unpageable(q, self.offset.is_some()) {
            return Next::Fail(self.truncated(why));
        }
        match info.schema.as_deref().and_then(|s| key_from_flags(q, s)) {
            Some(key) => self.with_key(&key),
            None => {
                let probe = probe_sql(&self.sql, &self.shape, q);
                match probe {
                    Some(sql) => Next::Probe(sql),
                    None => Next::Fail(self.truncated("its table cannot be read alone")),
                }
            }
        }
    }

    /// Starts keyset paging by `key`, the table's primary key, from the first row.
    fn with_key(&mut self, key: &str) -> Next {
        self.delivered = 0;
        let Some(q) = self.q() else {
            return Next::Done;
        };
        let tiebreak = !key.eq_ignore_ascii_case("_seq");
        if q.order_by.is_empty() {
            let visible = q.projection.iter().any(|p| match &p.kind {
                ItemKind::Wildcard | ItemKind::QualifiedWildcard => true,
                ItemKind::Column { name } => p.alias.is_none() && name.eq_ignore_ascii_case(key),
                _ => false,
            });
            let column = ident(key);
            self.keyset = Some(Keyset {
                expr: column.clone(),
                descending: false,
                read: ReadAt::Name(if visible {
                    key.to_owned()
                } else {
                    HIDDEN_KEY.to_owned()
                }),
                order_by: Some(column.clone()),
                key_column: (!visible).then_some(column),
                tiebreak,
                last: None,
            });
            return self.keyset_page();
        }
        let descending = q.order_by[0].descending;
        match ordered_key(&self.sql, q, key) {
            Ok((expr, read)) => {
                self.keyset = Some(Keyset {
                    expr,
                    descending,
                    read,
                    order_by: None,
                    key_column: None,
                    tiebreak,
                    last: None,
                });
                self.keyset_page()
            }
            Err(why) => Next::Fail(self.truncated(&why)),
        }
    }

    /// The page after `info`'s last row.
    fn next_keyset_page(&mut self, info: &PageInfo) -> Next {
        let (Some(schema), Some(last)) = (info.schema.as_deref(), info.last.as_deref()) else {
            return Next::Fail(Error::Protocol(
                "a full page came back without rows".to_owned(),
            ));
        };
        let Some(keyset) = self.keyset.as_mut() else {
            return Next::Done;
        };
        let literal = match key_literal(schema, last, &keyset.read) {
            Ok(l) => l,
            Err(why) => return Next::Fail(self.truncated(&why)),
        };
        let seq = if keyset.tiebreak {
            match key_literal(schema, last, &ReadAt::Name(HIDDEN_SEQ.to_owned())) {
                Ok(s) => Some(s),
                Err(why) => return Next::Fail(self.truncated(&why)),
            }
        } else {
            None
        };
        let cursor = (literal, seq);
        if keyset.last.as_ref() == Some(&cursor) {
            return Next::Fail(Error::Protocol(format!(
                "keyset paging made no progress past {}",
                cursor.0
            )));
        }
        keyset.last = Some(cursor);
        self.keyset_page()
    }

    fn keyset_page(&self) -> Next {
        let (Some(q), Some(k)) = (self.q(), self.keyset.as_ref()) else {
            return Next::Done;
        };
        let spec = Spec {
            limit: Some((self.cap, if k.last.is_none() { self.offset } else { None })),
            after: k.last.as_ref().map(|(literal, seq)| After {
                expr: &k.expr,
                descending: k.descending,
                literal,
                seq: seq.as_deref(),
            }),
            order_by: k.order_by.as_deref(),
            key_column: k.key_column.as_deref(),
            tiebreak: k.tiebreak.then_some(k.descending),
        };
        let fix = rewrite::needs_order_fix(q, &spec);
        let built = rewrite::build(&self.sql, &self.shape, q, &spec, fix);
        let opts = PageOpts {
            hidden: built.hidden,
            take: self.target.map(|t| t.saturating_sub(self.delivered)),
            keep_last: true,
        };
        Next::Page(built.sql, opts)
    }
}

/// Why `q` cannot be read in keyset pages, if it cannot.
fn unpageable(q: &SelectShape, offset: bool) -> Option<&'static str> {
    Some(if q.set_operation {
        "it combines queries (UNION, INTERSECT, EXCEPT)"
    } else if q.with {
        "it has a WITH clause"
    } else if q.table.is_none() {
        "it does not read exactly one table (a join, a subquery or no table)"
    } else if q.grouped {
        "it groups rows (GROUP BY, HAVING)"
    } else if q.distinct {
        "it has DISTINCT"
    } else if q.windows {
        "it has window functions"
    } else if q.aggregates {
        "it has aggregate functions"
    } else if q.order_by.len() > 1 {
        "it is ordered by more than one key"
    } else if q.order_by.is_empty() && offset {
        "it has an OFFSET but no ORDER BY"
    } else {
        return None;
    })
}

/// The primary key, from the first page's schema flags, when the flagged output column is
/// the key column itself (not an alias or an expression over it).
fn key_from_flags(q: &SelectShape, schema: &[SchemaField]) -> Option<String> {
    let field = schema.iter().find(|f| f.is_primary_key())?;
    let name = field.name.as_str();
    let aliased = q.projection.iter().any(|p| {
        p.alias
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(name))
    });
    let plain = q.projection.iter().any(|p| match &p.kind {
        ItemKind::Wildcard | ItemKind::QualifiedWildcard => true,
        ItemKind::Column { name: c } => p.alias.is_none() && c.eq_ignore_ascii_case(name),
        _ => false,
    });
    (plain && !aliased && !name.starts_with(HIDDEN_PREFIX)).then(|| name.to_owned())
}

/// `SELECT * FROM <table> LIMIT 0`, whose answer carries the table's schema with its flags.
fn probe_sql(sql: &str, shape: &QueryShape, q: &SelectShape) -> Option<String> {
    let table = q.table.as_ref()?;
    let probe = format!("SELECT * FROM {} LIMIT 0", &sql[table.span.clone()]);
    Some(match &shape.execute_as {
        Some(user) => format!("EXECUTE AS USER '{}' ({probe})", user.replace('\'', "''")),
        None => probe,
    })
}

/// For a query ordered by one key: the key as a `WHERE` clause writes it and where it is in
/// the output, when that key is the primary key `key`.
fn ordered_key(sql: &str, q: &SelectShape, key: &str) -> Result<(String, ReadAt), String> {
    let item = &q.order_by[0];
    let is_key = |name: &str| name.eq_ignore_ascii_case(key);
    let not_key = || {
        format!(
            "it is ordered by `{}`, not by the primary key `{key}`",
            &sql[item.expr.clone()]
        )
    };
    let hidden = || ReadAt::Name(format!("{HIDDEN_PREFIX}0"));
    match &item.key {
        OrderKey::Name(n) => {
            // An alias of the key column, or the key column itself.
            if let Some(p) = q.projection.iter().find(|p| p.alias.as_deref() == Some(n)) {
                return match &p.kind {
                    ItemKind::Column { name } if is_key(name) => {
                        Ok((sql[p.expr.clone()].to_owned(), ReadAt::Name(n.clone())))
                    }
                    _ => Err(not_key()),
                };
            }
            if !is_key(n) {
                return Err(not_key());
            }
            let read = if rewrite::names_output(q, item) {
                ReadAt::Name(n.clone())
            } else {
                hidden()
            };
            Ok((sql[item.expr.clone()].to_owned(), read))
        }
        OrderKey::Column { name } if is_key(name) => {
            Ok((sql[item.expr.clone()].to_owned(), hidden()))
        }
        OrderKey::Position(k) => {
            let before = q.projection.get(..k.saturating_sub(1)).unwrap_or(&[]);
            let wildcard = before
                .iter()
                .any(|p| matches!(p.kind, ItemKind::Wildcard | ItemKind::QualifiedWildcard));
            match q.projection.get(k.wrapping_sub(1)) {
                Some(p) if !wildcard => match &p.kind {
                    ItemKind::Column { name } if is_key(name) => {
                        Ok((sql[p.expr.clone()].to_owned(), ReadAt::Index(k - 1)))
                    }
                    _ => Err(not_key()),
                },
                _ => Err(not_key()),
            }
        }
        _ => Err(not_key()),
    }
}

/// The SQL literal of the key in `last` (a row of a page with `schema`).
fn key_literal(
    schema: &[SchemaField],
    last: &[Box<RawValue>],
    read: &ReadAt,
) -> Result<String, String> {
    let pos = match read {
        ReadAt::Index(k) => Some(*k),
        ReadAt::Name(name) => schema.iter().position(|f| f.name == *name).or_else(|| {
            schema
                .iter()
                .position(|f| f.name.eq_ignore_ascii_case(name))
        }),
    };
    let (Some(field), Some(cell)) = (
        pos.and_then(|p| schema.get(p)),
        pos.and_then(|p| last.get(p)),
    ) else {
        return Err("the key column is missing from its result".to_owned());
    };
    let raw = cell.get();
    let bad = || format!("the key `{}` holds {raw}", field.name);
    match field.data_type {
        t if t.is_integer() => {
            let n: i64 = match serde_json::from_str::<Value>(raw) {
                Ok(Value::Number(n)) => n.as_i64().ok_or_else(bad)?,
                Ok(Value::String(s)) => s.parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            };
            Ok(n.to_string())
        }
        SqlType::Text => {
            let s: String = serde_json::from_str(raw).map_err(|_| bad())?;
            Ok(rewrite::text_literal(&s))
        }
        SqlType::Uuid => {
            let s: String = serde_json::from_str(raw).map_err(|_| bad())?;
            let hex: String = s.chars().filter(|c| *c != '-').collect();
            if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            Ok(format!("X'{hex}'"))
        }
        other => Err(format!(
            "its primary key `{}` is a {}, which keyset paging does not support",
            field.name,
            other.sql_name()
        )),
    }
}

/// A column name as SQL: bare when lower case, quoted otherwise.
fn ident(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if bare {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}
