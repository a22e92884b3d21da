//! The WHERE of a materialized live query, evaluated on the client (protocol 3.7: the
//! server's live filter drops whole classes of filters, never sends an UPDATE that moves a row
//! out of the filter, and sends one that moves a row in as an `update`).
//!
//! [`plan`] decides what goes to the server: in exact mode the projection widened by the
//! columns the WHERE reads, and only the terms over stable columns that the server delivers
//! faithfully; in server mode the WHERE as written, once kalam-schema's table of what the
//! server delivers has accepted it. Either way the client evaluates the whole WHERE on every
//! row it receives ([`CellsRow`]), with SQL's semantics.

use std::sync::Arc;

use kalam_schema::filter::{Datum, Filter, FilterColumn, FilterMode, FilterRow};
use kalam_schema::{SchemaError, SqlType};

use super::Cells;
use crate::client::KalamClient;
use crate::decode::{Cell, FromCell};
use crate::error::{Error, Result};
use crate::types::{Date, DateTime, Decimal, Time, Timestamp, Uuid};
use crate::wire::SchemaField;

/// What to subscribe with, and what to evaluate on every row.
#[derive(Debug, Default)]
pub(crate) struct WirePlan {
    /// The SQL sent to the server (`None`: the user's SQL as written).
    pub(crate) sql: Option<String>,
    /// The whole WHERE, evaluated on every row received.
    pub(crate) filter: Option<Arc<Filter>>,
    /// Columns added to the projection for the filter (left out of the rows).
    pub(crate) hidden: Vec<String>,
    /// The server evaluates the whole WHERE (server mode, or every term pushed down).
    pub(crate) server_filters_all: bool,
}

/// The error for a WHERE that `mode` cannot evaluate.
pub(crate) fn filter_error(mode: FilterMode, e: &SchemaError) -> Error {
    Error::LiveFilter {
        mode,
        message: match &e.location {
            Some(l) => format!("{} (sql {}:{})", e.message, l.line, l.column),
            None => e.message.clone(),
        },
        help: e.suggestion.clone(),
    }
}

/// The filter columns of a result schema (a column flagged `nn` cannot be NULL).
pub(crate) fn filter_columns(schema: &[SchemaField]) -> Vec<FilterColumn> {
    schema
        .iter()
        .map(|f| FilterColumn::new(f.name.to_ascii_lowercase(), f.data_type, !f.is_not_null()))
        .collect()
}

/// Plans a materialized subscription of `sql`. SQL whose shape the client does not
/// understand goes to the server as written (the server reports what is wrong with it).
pub(crate) async fn plan(
    client: &KalamClient,
    sql: &str,
    mode: FilterMode,
    stable: &[String],
) -> Result<WirePlan> {
    let Ok(query) = kalam_schema::live_query(sql) else {
        return Ok(WirePlan::default());
    };
    let Some(clause) = query.where_clause() else {
        return Ok(WirePlan::default());
    };
    let table = format!("{}.{}", query.namespace, query.table);
    // The table's column types and the subscriber's id, before subscribing.
    let probe = client
        .execute_query(&format!("SELECT * FROM {table} LIMIT 0"), None, None)
        .await?;
    let result = probe
        .results
        .into_iter()
        .next()
        .ok_or_else(|| Error::Protocol(format!("no result describing {table}")))?;
    let columns = filter_columns(&result.schema);
    let user = result.as_user.unwrap_or_default();
    let filter = clause
        .compile_for_user(&columns, FilterMode::Exact, &user)
        .map_err(|e| filter_error(FilterMode::Exact, &e))?;
    let stable: Vec<&str> = stable.iter().map(String::as_str).collect();
    let (wire_where, server_filters_all) = match mode {
        FilterMode::Server => {
            clause
                .check_server(&columns)
                .map_err(|e| filter_error(FilterMode::Server, &e))?;
            (Some(clause.to_sql()), true)
        }
        _ => {
            let all_stable = clause
                .columns()
                .iter()
                .all(|c| stable.iter().any(|s| s.eq_ignore_ascii_case(c)));
            let whole = all_stable && clause.check_server(&columns).is_ok();
            (clause.server_part(&columns, &stable), whole)
        }
    };
    let mut hidden = Vec::new();
    let projection = match &query.columns {
        None => "*".to_owned(),
        Some(listed) => {
            for c in filter.columns() {
                if !listed.iter().any(|l| l == &c.name) {
                    hidden.push(c.name.clone());
                }
            }
            let mut all = listed.clone();
            all.extend(hidden.iter().cloned());
            all.join(", ")
        }
    };
    let wire = match (&wire_where, mode, hidden.is_empty()) {
        // Nothing to change: the server gets the SQL as the user wrote it.
        (_, FilterMode::Server, true) => None,
        (Some(w), ..) => Some(format!("SELECT {projection} FROM {table} WHERE {w}")),
        (None, ..) => Some(format!("SELECT {projection} FROM {table}")),
    };
    Ok(WirePlan {
        sql: wire,
        filter: Some(Arc::new(filter)),
        hidden,
        server_filters_all,
    })
}

/// A row of a live event as the filter reads it: cells looked up by the filter's column
/// names and parsed by their types. A column the row lacks is NULL (update rows omit NULL
/// columns, protocol 3.7).
pub(crate) struct CellsRow<'a> {
    pub(crate) cells: &'a Cells,
    pub(crate) filter: &'a Filter,
}

impl FilterRow for CellsRow<'_> {
    type Error = Error;

    fn value(&self, column: usize) -> Result<Datum<'_>> {
        let Some(col) = self.filter.columns().get(column) else {
            return Ok(Datum::Null);
        };
        let Some(raw) = self.cells.get(&col.name) else {
            return Ok(Datum::Null);
        };
        let cell = Cell::new(raw.get(), &col.name, Some(col.ty));
        if cell.is_null() {
            return Ok(Datum::Null);
        }
        datum(cell, col.ty)
    }
}

/// One cell as a filter value of a column of type `ty`.
fn datum<'a>(cell: Cell<'a>, ty: SqlType) -> Result<Datum<'a>> {
    Ok(match ty {
        SqlType::Boolean => Datum::Bool(bool::from_cell(&cell)?),
        SqlType::SmallInt | SqlType::Int | SqlType::BigInt => Datum::Int(cell.to_i64()?),
        SqlType::Float | SqlType::Double => Datum::Float(f64::from_cell(&cell)?),
        SqlType::Decimal { .. } => {
            let d = Decimal::from_cell(&cell)?;
            Datum::Decimal(d.mantissa(), d.scale())
        }
        SqlType::Text | SqlType::Json | SqlType::File => {
            if cell.raw_json().starts_with('"') {
                Datum::Text(cell.to_str("text")?)
            } else {
                // A JSON column sent as an object: its text.
                Datum::Text(cell.raw_json().into())
            }
        }
        SqlType::Timestamp => Datum::Timestamp(Timestamp::from_cell(&cell)?.as_micros()),
        SqlType::DateTime => Datum::Timestamp(DateTime::from_cell(&cell)?.as_micros()),
        SqlType::Date => Datum::Date(Date::from_cell(&cell)?.as_days()),
        SqlType::Time => Datum::Time(Time::from_cell(&cell)?.as_micros()),
        SqlType::Uuid => Datum::Uuid(u128::from_be_bytes(*Uuid::from_cell(&cell)?.as_bytes())),
        SqlType::Bytes => Datum::Bytes(Vec::<u8>::from_cell(&cell)?.into()),
        SqlType::Embedding(_) => Datum::Embedding(Vec::<f32>::from_cell(&cell)?.into()),
    })
}

/// Whether `filter` (if any) accepts the row.
pub(crate) fn accepts(filter: Option<&Filter>, cells: &Cells) -> Result<bool> {
    match filter {
        None => Ok(true),
        Some(filter) => filter.matches(&CellsRow { cells, filter }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kalam_schema::filter::WhereClause;

    fn cells(json: &str) -> Cells {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn rows_are_read_by_type_and_absent_columns_are_null() {
        let columns = [
            FilterColumn::new("id", SqlType::BigInt, false),
            FilterColumn::new("done", SqlType::Boolean, false),
            FilterColumn::new("due", SqlType::Date, true),
            FilterColumn::new(
                "price",
                SqlType::Decimal {
                    precision: 10,
                    scale: 2,
                },
                true,
            ),
            FilterColumn::new("at", SqlType::Timestamp, true),
            FilterColumn::new("title", SqlType::Text, true),
        ];
        let filter = WhereClause::parse(
            "id > 9007199254740992 AND NOT done AND due = '2025-06-01' AND price > 3 \
             AND at >= '2025-06-02T00:00:00Z' AND title LIKE 'it''s%'",
        )
        .unwrap()
        .compile(&columns, FilterMode::Exact)
        .unwrap();
        let row = cells(
            r#"{"id":"9007199254740993","done":false,"due":20240,"price":"3.50",
                "at":1748822400000000,"title":"it's \u00e9","_seq":"1"}"#,
        );
        assert!(accepts(Some(&filter), &row).unwrap());
        // An update row without `title` (set to NULL): the filter sees NULL.
        let partial = cells(
            r#"{"id":"9007199254740993","done":false,"due":20240,"price":"3.50","at":1748822400000000}"#,
        );
        assert!(!accepts(Some(&filter), &partial).unwrap());
        let bad = cells(r#"{"id":"x","done":false}"#);
        assert!(matches!(
            accepts(Some(&filter), &bad),
            Err(Error::Decode { .. })
        ));
        assert!(accepts(None, &bad).unwrap());
    }
}
