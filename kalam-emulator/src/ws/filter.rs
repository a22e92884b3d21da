//! The live filter: the small WHERE evaluator the server applies to the **new** row of every
//! change (protocol 3.7), quirks included. It is kalam-schema's filter evaluator in
//! [`FilterMode::Server`], which reads the table of what the server delivers
//! ([`kalam_schema::filter::SERVER_RULES`]); this module only feeds it the rows of the store.
//!
//! Supported: `AND`, `OR`, `NOT`, parentheses, `= != <> < > <= >=`, `LIKE`/`ILIKE`, column
//! references (bare or qualified, case-insensitive fallback) and string/number/boolean/NULL
//! literals. Anything else (`IN`, `IS NULL`, `BETWEEN`, function calls, arithmetic, negative
//! numbers, a bare boolean column) makes the evaluation fail, and a failed evaluation drops the
//! change. There is no three-valued logic: a NULL column is simply "not equal" to a literal, so
//! `NOT title = 'x'` holds for a NULL title. `<`, `>`, `<=`, `>=` need numbers on both sides
//! (else: failure), so DATE/TIMESTAMP and text ranges drop every change, and a DATE or
//! TIMESTAMP is never `=` to a literal.

use std::convert::Infallible;
use std::sync::Mutex;

use kalam_schema::filter::{Datum, Filter, FilterColumn, FilterMode, FilterRow, WhereClause};
use kalam_schema::{SqlType, Table};

use crate::store::Row;
use crate::store::value::Value;

/// Where a filter column's value comes from in a stored row.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// A user column, by position.
    User(usize),
    Seq,
    Deleted,
    /// Not a column of the row's table (the filter resolved it against another definition).
    Missing,
}

/// A filter compiled for one definition of its table.
#[derive(Debug)]
struct Compiled {
    /// The columns it was compiled against (the table changes with `ALTER TABLE`).
    columns: Vec<FilterColumn>,
    filter: Filter,
    slots: Vec<Slot>,
}

/// A compiled live filter.
#[derive(Debug)]
pub(crate) struct LiveFilter {
    /// `None`: no WHERE, or a WHERE that could not be parsed: every change passes.
    clause: Option<WhereClause>,
    compiled: Mutex<Option<Compiled>>,
}

/// The columns a filter sees: the user columns, then `_seq` and `_deleted`.
fn filter_columns(def: &Table) -> Vec<FilterColumn> {
    def.user_columns()
        .map(|c| FilterColumn::new(c.name.clone(), c.ty, c.nullable))
        .chain([
            FilterColumn::new("_seq", SqlType::BigInt, false),
            FilterColumn::new("_deleted", SqlType::Boolean, false),
        ])
        .collect()
}

/// One stored row as the filter reads it.
struct Values<'a> {
    def: &'a Table,
    row: &'a Row,
    slots: &'a [Slot],
}

impl FilterRow for Values<'_> {
    type Error = Infallible;

    fn value(&self, column: usize) -> Result<Datum<'_>, Infallible> {
        Ok(match self.slots.get(column) {
            Some(Slot::User(i)) => {
                let ty = self.def.user_columns().nth(*i).map(|c| c.ty);
                self.row
                    .values
                    .get(*i)
                    .map_or(Datum::Null, |v| datum(v, ty))
            }
            Some(Slot::Seq) => Datum::Int(self.row.seq),
            Some(Slot::Deleted) => Datum::Bool(self.row.deleted),
            Some(Slot::Missing) | None => Datum::Null,
        })
    }
}

/// A stored value as a filter value (DECIMAL takes its scale from the column type).
fn datum(v: &Value, ty: Option<SqlType>) -> Datum<'_> {
    match v {
        Value::Null => Datum::Null,
        Value::Bool(b) => Datum::Bool(*b),
        Value::SmallInt(x) => Datum::Int(i64::from(*x)),
        Value::Int(x) => Datum::Int(i64::from(*x)),
        Value::BigInt(x) => Datum::Int(*x),
        Value::Float(f) => Datum::Float(f64::from(*f)),
        Value::Double(f) => Datum::Float(*f),
        Value::Text(s) | Value::Json(s) | Value::File(s) => Datum::Text(s.as_str().into()),
        Value::Timestamp(t) | Value::DateTime(t) => Datum::Timestamp(*t),
        Value::Date(d) => Datum::Date(*d),
        Value::Time(t) => Datum::Time(*t),
        Value::Bytes(b) => Datum::Bytes(b.as_slice().into()),
        Value::Embedding(e) => Datum::Embedding(e.as_slice().into()),
        Value::Uuid(u) => Datum::Uuid(*u),
        Value::Decimal(x) => {
            let scale = match ty {
                Some(SqlType::Decimal { scale, .. }) => scale,
                _ => 0,
            };
            Datum::Decimal(*x, scale)
        }
    }
}

impl LiveFilter {
    /// The filter of a subscription or topic route (see `query::parse` for `CURRENT_USER()`).
    pub(crate) fn new(clause: Option<WhereClause>) -> LiveFilter {
        LiveFilter {
            clause,
            compiled: Mutex::new(None),
        }
    }

    /// Whether a change whose new row is `row` (of a table defined as `def`) is delivered.
    pub(crate) fn matches(&self, def: &Table, row: &Row) -> bool {
        let Some(clause) = &self.clause else {
            return true;
        };
        let mut compiled = self
            .compiled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let columns = filter_columns(def);
        if compiled.as_ref().is_none_or(|c| c.columns != columns) {
            // Server mode compiles every WHERE: what it cannot evaluate drops the change.
            let Ok(filter) = clause.compile(&columns, FilterMode::Server) else {
                return false;
            };
            let user = def.user_columns().count();
            let slots = filter
                .columns()
                .iter()
                .map(|f| match columns.iter().position(|c| c.name == f.name) {
                    Some(i) if i < user => Slot::User(i),
                    Some(i) if i == user => Slot::Seq,
                    Some(_) => Slot::Deleted,
                    None => Slot::Missing,
                })
                .collect();
            *compiled = Some(Compiled {
                columns,
                filter,
                slots,
            });
        }
        let Some(c) = compiled.as_ref() else {
            return false;
        };
        let values = Values {
            def,
            row,
            slots: &c.slots,
        };
        match c.filter.matches(&values) {
            Ok(delivered) => delivered,
            Err(never) => match never {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivers(filter: &str, title: Option<&str>, n: Option<i32>) -> bool {
        let q = crate::ws::query::parse(&format!("SELECT * FROM app.t WHERE {filter}"), "alice")
            .unwrap();
        let f = LiveFilter::new(q.live_filter);
        let row = Row {
            values: vec![
                Value::BigInt(20),
                title.map_or(Value::Null, |t| Value::Text(t.into())),
                n.map_or(Value::Null, Value::Int),
            ],
            seq: 1,
            deleted: false,
            commit_seq: 1,
        };
        f.matches(&crate::ws::sample_table(), &row)
    }

    #[test]
    fn observed_delivery_table() {
        let row = (Some("zed"), Some(5));
        for f in [
            "n = 5",
            "n <> 6",
            "n > 1 AND title = 'zed'",
            "n = 1 OR n = 5",
            "NOT (n = 6)",
            "title LIKE 'z%'",
            "title ILIKE 'Z_D'",
            "(n = 5 OR n = 6) AND title <> 'q'",
            "t.n = 5",
            "N = 5",
        ] {
            assert!(delivers(f, row.0, row.1), "{f}");
        }
        for f in [
            "id IN (20, 21)",
            "n BETWEEN 0 AND 10",
            "title IS NOT NULL",
            "length(title) > 0",
            "n + 1 > 0",
            "LOWER(title) = 'zed'",
            "title = CURRENT_USER()",
            "n > -1",
            "title > 'a'",
            "n = 6",
        ] {
            assert!(!delivers(f, row.0, row.1), "{f}");
        }
    }

    #[test]
    fn no_three_valued_logic() {
        assert!(delivers(
            "(n = 5 OR n = 6) AND NOT title = 'zzz'",
            None,
            Some(5)
        ));
        assert!(delivers("n <> 5", Some("a"), None));
        assert!(!delivers("n = NULL", Some("a"), None));
        assert!(!delivers("n > 2", Some("a"), None));
    }

    #[test]
    fn like_patterns() {
        let like = |s: &str, p: &str| delivers(&format!("title LIKE '{p}'"), Some(s), Some(1));
        assert!(like("xy", "x%"));
        assert!(like("abc", "a_c"));
        assert!(like("a%c", "a\\%c"));
        assert!(!like("abc", "a\\%c"));
        assert!(like("", "%"));
        assert!(!like("ab", "a"));
        assert!(like("banana", "%an%na"));
        // A trailing backslash matches nothing (SQL reads it as itself).
        assert!(!like("a\\", "a\\"));
        // A NULL title is unequal to every pattern.
        assert!(!delivers("title LIKE '%'", None, Some(1)));
        assert!(delivers("title NOT LIKE '%'", None, Some(1)));
    }

    #[test]
    fn dates_timestamps_booleans_and_stable_system_columns() {
        let mut def = crate::ws::sample_table();
        def.columns
            .push(kalam_schema::Column::new("due", SqlType::Date, true));
        def.columns
            .push(kalam_schema::Column::new("done", SqlType::Boolean, false));
        let row = Row {
            values: vec![
                Value::BigInt(20),
                Value::Null,
                Value::Int(5),
                Value::Date(20_240),
                Value::Bool(false),
            ],
            seq: 7,
            deleted: false,
            commit_seq: 1,
        };
        let delivered = |w: &str| {
            let q = crate::ws::query::parse(&format!("SELECT * FROM app.t WHERE {w}"), "alice")
                .unwrap();
            LiveFilter::new(q.live_filter).matches(&def, &row)
        };
        assert!(delivered("done = false"));
        assert!(!delivered("NOT done"));
        assert!(!delivered("done IS FALSE"));
        assert!(!delivered("due = '2025-06-01'"));
        assert!(delivered("due <> '2025-06-01'"));
        assert!(!delivered("due > '2025-01-01'"));
        assert!(delivered("_seq = 7 AND _deleted = false"));
        // The table gains a column after the filter was compiled: it is compiled again.
        let f = LiveFilter::new(
            crate::ws::query::parse("SELECT * FROM app.t WHERE extra = 1", "alice")
                .unwrap()
                .live_filter,
        );
        assert!(!f.matches(&def, &row));
        let mut altered = def.clone();
        altered
            .columns
            .push(kalam_schema::Column::new("extra", SqlType::Int, true));
        let mut longer = row.clone();
        longer.values.push(Value::Int(1));
        assert!(f.matches(&altered, &longer));
    }
}
