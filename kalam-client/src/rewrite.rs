//! Query rewrites that make the server return every row asked for, in the order asked
//! (protocol 1.3 step 9), written by splicing text at the offsets of a [`QueryShape`]: the
//! user's SQL stays verbatim inside the rewrite.
//!
//! - An explicit `LIMIT` replaces the server's implicit `LIMIT 50`.
//! - A top-level `ORDER BY` is repeated around the query,
//!   `SELECT * FROM (<query>) AS __kalam_q ORDER BY <the same keys>`, so that the outermost
//!   plan node is a sort and the server's primary-key re-sort does not apply. A key that is
//!   not an output column travels as a hidden trailing column (`__kalam_<n>`), which the
//!   decoder drops.
//! - Keyset pages add `(<key> > <k> OR (<key> = <k> AND _seq > <s>))` to the `WHERE`
//!   clause, order by `<key>, _seq` and carry `_seq` as a hidden column.

use std::fmt::Write as _;

use kalam_schema::{ItemKind, OrderItem, OrderKey, QueryShape, SelectShape};

/// The name every column the client adds starts with; the decoder drops such trailing columns.
pub(crate) const HIDDEN_PREFIX: &str = "__kalam_";

/// The alias of the wrapped query.
const WRAP_ALIAS: &str = "__kalam_q";

/// The hidden key column of keyset pages.
pub(crate) const HIDDEN_KEY: &str = "__kalam_k";

/// The hidden `_seq` column of keyset pages (the tie-break between equal keys).
pub(crate) const HIDDEN_SEQ: &str = "__kalam_s";

/// One request to build from a query.
#[derive(Debug, Default)]
pub(crate) struct Spec<'k> {
    /// Replace the `LIMIT`/`OFFSET` clauses with these (`None`: keep the user's).
    pub(crate) limit: Option<(u64, Option<u64>)>,
    /// A keyset condition `<expr> > <literal>` (`<` when descending).
    pub(crate) after: Option<After<'k>>,
    /// An `ORDER BY <key>` to add (the query has none).
    pub(crate) order_by: Option<&'k str>,
    /// A column to add to the projection as [`HIDDEN_KEY`].
    pub(crate) key_column: Option<&'k str>,
    /// Order equal keys by `_seq` too (descending when `Some(true)`), carried as
    /// [`HIDDEN_SEQ`]; the order is then repeated around the query.
    pub(crate) tiebreak: Option<bool>,
}

/// A keyset condition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct After<'k> {
    pub(crate) expr: &'k str,
    pub(crate) descending: bool,
    pub(crate) literal: &'k str,
    /// The last row's `_seq`, for a tie-break between equal keys.
    pub(crate) seq: Option<&'k str>,
}

/// The SQL to send and how many hidden trailing columns its result has.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Built {
    pub(crate) sql: String,
    pub(crate) hidden: usize,
}

/// Whether an `ORDER BY` item can be repeated as written around the query: it names an
/// output column (or a position). Other keys travel as hidden columns.
pub(crate) fn names_output(q: &SelectShape, item: &OrderItem) -> bool {
    if q.set_operation {
        // Set operations order by their output columns only.
        return true;
    }
    match &item.key {
        OrderKey::Position(_) => true,
        OrderKey::Name(n) => q
            .projection
            .iter()
            .any(|p| p.output_name() == Some(n.as_str()) || p.kind == ItemKind::Wildcard),
        _ => false,
    }
}

/// Whether the server would return the rows of `q` out of the order asked, once `spec` is
/// applied: it re-sorts by primary key unless the outermost plan node is a sort, which it
/// is not with a `LIMIT`/`OFFSET` or with a sort key that is not an output column.
pub(crate) fn needs_order_fix(q: &SelectShape, spec: &Spec<'_>) -> bool {
    if q.order_by.is_empty() {
        return false;
    }
    if spec.tiebreak.is_some() {
        return true;
    }
    let limited = match spec.limit {
        Some(_) => true,
        None => q.limit.is_some() || q.offset.is_some(),
    };
    limited || q.order_by.iter().any(|o| !names_output(q, o))
}

/// Builds the request `spec` describes from `sql` (analysed into `shape`, whose `select`
/// is `q`), repeating the `ORDER BY` around it when `fix_order`.
pub(crate) fn build(
    sql: &str,
    shape: &QueryShape,
    q: &SelectShape,
    spec: &Spec<'_>,
    fix_order: bool,
) -> Built {
    let body = shape.body.clone();
    let mut out = String::with_capacity(body.len() + 96);
    let mut at = body.start;
    let mut copy_to = |out: &mut String, to: usize| {
        out.push_str(&sql[at..to]);
        at = to;
    };
    let mut hidden = 0;
    // Hidden sort keys, then the hidden paging key, after the last projection item.
    let mut extra = String::new();
    if fix_order && !q.set_operation {
        for (i, o) in q.order_by.iter().enumerate() {
            if !names_output(q, o) {
                let _ = write!(extra, ", {} AS {HIDDEN_PREFIX}{i}", &sql[o.expr.clone()]);
                hidden += 1;
            }
        }
    }
    if let Some(key) = spec.key_column {
        let _ = write!(extra, ", {key} AS {HIDDEN_KEY}");
        hidden += 1;
    }
    if spec.tiebreak.is_some() {
        let _ = write!(extra, ", _seq AS {HIDDEN_SEQ}");
        hidden += 1;
    }
    let seq_order = match spec.tiebreak {
        Some(true) => "_seq DESC",
        _ => "_seq",
    };
    if !extra.is_empty() {
        copy_to(&mut out, q.projection_end);
        out.push_str(&extra);
    }
    if let Some(after) = &spec.after {
        let op = if after.descending { "<" } else { ">" };
        let (e, l) = (after.expr, after.literal);
        let condition = match after.seq {
            Some(seq) => format!("({e} {op} {l} OR ({e} = {l} AND _seq {op} {seq}))"),
            None => format!("{e} {op} {l}"),
        };
        match (&q.filter, q.from_end) {
            (Some(filter), _) => {
                copy_to(&mut out, filter.start);
                out.push('(');
                copy_to(&mut out, filter.end);
                let _ = write!(out, ") AND {condition}");
            }
            (None, Some(from_end)) => {
                copy_to(&mut out, from_end);
                let _ = write!(out, " WHERE {condition}");
            }
            // Keyset pages are only built for queries with a FROM table.
            (None, None) => {}
        }
    }
    copy_to(&mut out, q.tail);
    if let Some(key) = spec.order_by {
        let _ = write!(out, " ORDER BY {key}");
    }
    if spec.tiebreak.is_some() && (spec.order_by.is_some() || !q.order_by.is_empty()) {
        let _ = write!(out, ", {seq_order}");
    }
    match spec.limit {
        Some((limit, offset)) => {
            let _ = write!(out, " LIMIT {limit}");
            if let Some(offset) = offset {
                let _ = write!(out, " OFFSET {offset}");
            }
        }
        None => copy_to(&mut out, body.end),
    }
    if fix_order {
        let mut keys = Vec::with_capacity(q.order_by.len());
        for (i, o) in q.order_by.iter().enumerate() {
            if q.set_operation || names_output(q, o) {
                keys.push(sql[o.span.clone()].to_owned());
            } else {
                keys.push(format!(
                    "{HIDDEN_PREFIX}{i}{}",
                    &sql[o.expr.end..o.span.end]
                ));
            }
        }
        if spec.tiebreak.is_some() {
            keys.push(seq_order.replacen("_seq", HIDDEN_SEQ, 1));
        }
        out = format!(
            "SELECT * FROM ({out}) AS {WRAP_ALIAS} ORDER BY {}",
            keys.join(", ")
        );
    } else if let (Some(key), Some(_)) = (spec.order_by, spec.tiebreak) {
        // Ordered by the key the client added: repeated around the query under the name the
        // key has in the output.
        let key = if spec.key_column.is_some() {
            HIDDEN_KEY
        } else {
            key
        };
        out = format!("SELECT * FROM ({out}) AS {WRAP_ALIAS} ORDER BY {key}, {HIDDEN_SEQ}");
    }
    if let Some(user) = &shape.execute_as {
        out = format!("EXECUTE AS USER '{}' ({out})", user.replace('\'', "''"));
    }
    Built { sql: out, hidden }
}

/// A text literal for SQL (single quotes doubled).
pub(crate) fn text_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str, spec: &Spec<'_>) -> Built {
        let shape = kalam_schema::query_shape(sql).unwrap();
        let q = shape.select.clone().unwrap();
        let fix = needs_order_fix(&q, spec);
        build(sql, &shape, &q, spec, fix)
    }

    fn limit(n: u64) -> Spec<'static> {
        Spec {
            limit: Some((n, None)),
            ..Spec::default()
        }
    }

    #[test]
    fn adds_an_explicit_limit_and_keeps_comments_out_of_the_way() {
        let b = run("SELECT id FROM t -- every task\n;", &limit(1000));
        assert_eq!(b.sql, "SELECT id FROM t LIMIT 1000");
        let b = run("SELECT id FROM t LIMIT ALL", &limit(1000));
        assert_eq!(b.sql, "SELECT id FROM t LIMIT 1000");
        let spec = Spec {
            limit: Some((1000, Some(5))),
            ..Spec::default()
        };
        let b = run("SELECT id FROM t ORDER BY id OFFSET 5", &spec);
        assert_eq!(
            b.sql,
            "SELECT * FROM (SELECT id FROM t ORDER BY id LIMIT 1000 OFFSET 5) AS __kalam_q ORDER BY id"
        );
    }

    #[test]
    fn repeats_the_order_around_limited_queries() {
        let b = run(
            "SELECT id FROM t ORDER BY id DESC LIMIT 3",
            &Spec::default(),
        );
        assert_eq!(
            b,
            Built {
                sql: "SELECT * FROM (SELECT id FROM t ORDER BY id DESC LIMIT 3) AS __kalam_q ORDER BY id DESC".into(),
                hidden: 0
            }
        );
        // Sorting by a column that is not selected re-sorts too, LIMIT or not.
        let b = run("SELECT id FROM t ORDER BY v NULLS FIRST", &Spec::default());
        assert_eq!(
            b,
            Built {
                sql: "SELECT * FROM (SELECT id, v AS __kalam_0 FROM t ORDER BY v NULLS FIRST) AS __kalam_q ORDER BY __kalam_0 NULLS FIRST".into(),
                hidden: 1
            }
        );
        // Selected keys, aliases and positions are repeated as written.
        let b = run(
            "SELECT id, v AS x, * FROM t ORDER BY x, 1 DESC, t.id, lower(title) LIMIT 2",
            &Spec::default(),
        );
        assert_eq!(
            b.sql,
            "SELECT * FROM (SELECT id, v AS x, *, t.id AS __kalam_2, lower(title) AS __kalam_3 FROM t ORDER BY x, 1 DESC, t.id, lower(title) LIMIT 2) AS __kalam_q ORDER BY x, 1 DESC, __kalam_2, __kalam_3"
        );
        assert_eq!(b.hidden, 2);
        // Nothing to fix: every key is an output column and nothing limits the sort.
        let b = run("SELECT id, v FROM t ORDER BY v", &Spec::default());
        assert_eq!(b.sql, "SELECT id, v FROM t ORDER BY v");
    }

    #[test]
    fn set_operations_repeat_their_order_by() {
        let b = run(
            "SELECT a FROM t UNION SELECT a FROM u ORDER BY a DESC LIMIT 4",
            &Spec::default(),
        );
        assert_eq!(
            b.sql,
            "SELECT * FROM (SELECT a FROM t UNION SELECT a FROM u ORDER BY a DESC LIMIT 4) AS __kalam_q ORDER BY a DESC"
        );
    }

    #[test]
    fn keyset_pages() {
        let spec = Spec {
            limit: Some((1000, None)),
            after: Some(After {
                expr: "id",
                descending: false,
                literal: "42",
                seq: Some("7"),
            }),
            order_by: Some("id"),
            key_column: Some("id"),
            tiebreak: Some(false),
        };
        let b = run("SELECT title FROM t WHERE done = $1 OR x", &spec);
        assert_eq!(
            b,
            Built {
                sql: "SELECT * FROM (SELECT title, id AS __kalam_k, _seq AS __kalam_s FROM t WHERE (done = $1 OR x) AND (id > 42 OR (id = 42 AND _seq > 7)) ORDER BY id, _seq LIMIT 1000) AS __kalam_q ORDER BY __kalam_k, __kalam_s".into(),
                hidden: 2
            }
        );
        let spec = Spec {
            limit: Some((1000, None)),
            after: Some(After {
                expr: "k",
                descending: true,
                literal: "'o''k'",
                seq: Some("9"),
            }),
            tiebreak: Some(true),
            ..Spec::default()
        };
        let b = run(
            "EXECUTE AS USER 'al''ice' (SELECT k, n FROM app.s AS s ORDER BY k DESC);",
            &spec,
        );
        assert_eq!(
            b.sql,
            "EXECUTE AS USER 'al''ice' (SELECT * FROM (SELECT k, n, _seq AS __kalam_s FROM app.s AS s WHERE (k < 'o''k' OR (k = 'o''k' AND _seq < 9)) ORDER BY k DESC, _seq DESC LIMIT 1000) AS __kalam_q ORDER BY k DESC, __kalam_s DESC)"
        );
        assert_eq!(b.hidden, 1);
        // Keyed by `_seq` itself: no tie-break.
        let spec = Spec {
            limit: Some((1000, None)),
            after: Some(After {
                expr: "_seq",
                descending: false,
                literal: "5",
                seq: None,
            }),
            order_by: Some("_seq"),
            ..Spec::default()
        };
        let b = run("SELECT * FROM app.events", &spec);
        assert_eq!(
            b.sql,
            "SELECT * FROM app.events WHERE _seq > 5 ORDER BY _seq LIMIT 1000"
        );
        assert_eq!(text_literal("it's"), "'it''s'");
    }
}
