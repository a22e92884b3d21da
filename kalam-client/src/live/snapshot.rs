//! Complete initial sets over HTTP (protocol 3.6): the server's paged initial data skips rows
//! when key order and `_seq` order differ and stops at 1,000 rows, so [`KalamClient::live`]
//! subscribes without initial data (the subscription is live at once) and reads the current
//! rows itself with keyset paging: `SELECT … WHERE (<filter>) AND <pk> > $1 ORDER BY <pk>
//! LIMIT n` until a page comes back empty (correct under the server's implicit LIMIT, its row
//! cap and its primary-key re-sort, protocol 1.3 step 9). Changes that arrive meanwhile are
//! merged by `_seq` afterwards.

use std::sync::Arc;

use kalam_schema::filter::Filter;

use crate::client::KalamClient;
use crate::error::{Error, Result};
use crate::row::Row;

type RawCells = super::Cells;

/// Rows per keyset page: the server's `max_query_limit` default (protocol 1.3).
pub(crate) const MAX_PAGE: u32 = 1000;

/// The parts of `SELECT <projection> FROM <table> [WHERE <filter>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveSqlParts {
    projection: String,
    table: String,
    filter: Option<String>,
}

/// Splits live SQL at its top-level `FROM` and `WHERE` (quotes, identifiers in double
/// quotes or backticks, comments-free SQL and parentheses are respected).
pub(crate) fn split_live_sql(sql: &str) -> Result<LiveSqlParts> {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    let bad = || {
        Error::Config(format!(
            "not a live query (SELECT … FROM ns.table [WHERE …]): `{sql}`"
        ))
    };
    let words = top_level_words(sql);
    let find = |word: &str| {
        words
            .iter()
            .find(|(_, w)| w.eq_ignore_ascii_case(word))
            .map(|(i, _)| *i)
    };
    let select = find("select").filter(|i| *i == 0).ok_or_else(bad)?;
    let from = find("from").ok_or_else(bad)?;
    let filter_at = find("where").filter(|w| *w > from);
    let projection = sql[select + 6..from].trim().to_owned();
    let table_end = filter_at.unwrap_or(sql.len());
    let table = sql[from + 4..table_end].trim().to_owned();
    let filter = filter_at.map(|w| sql[w + 5..].trim().to_owned());
    if projection.is_empty() || table.is_empty() || filter.as_deref() == Some("") {
        return Err(bad());
    }
    Ok(LiveSqlParts {
        projection,
        table,
        filter,
    })
}

/// Byte offsets and text of the bare words outside quotes and parentheses.
fn top_level_words(sql: &str) -> Vec<(usize, &str)> {
    let bytes = sql.as_bytes();
    let mut words = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' | b'`' => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == c {
                        // A doubled quote is an escaped quote.
                        if bytes.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let boundary = start == 0 || !matches!(bytes[start - 1], b'.' | b'$');
                if depth == 0 && boundary {
                    words.push((start, &sql[start..i]));
                }
            }
            _ => i += 1,
        }
    }
    words
}

/// What to read: the live query's parts, its key column and the resume point.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotPlan {
    pub(crate) parts: LiveSqlParts,
    /// The primary-key column used for keyset paging.
    pub(crate) key: Option<String>,
    /// Only rows changed after this `_seq` (resume from a checkpoint).
    pub(crate) after_seq: Option<i64>,
    /// Rows per page (≤ 1000).
    pub(crate) page: u32,
    /// Exact mode with `after_seq`: the WHERE, evaluated here instead of by the SELECT, so
    /// that rows changed after the checkpoint which no longer match are known
    /// ([`Snapshot::left`]).
    pub(crate) filter: Option<Arc<Filter>>,
}

/// A finished snapshot.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) rows: Vec<RawCells>,
    /// `MAX(_seq)` of the table read after the subscription was live (the resume point for
    /// changes not yet seen), if the server answered it.
    pub(crate) high_water: Option<i64>,
    pub(crate) pages: u32,
    /// Rows changed after the checkpoint that the WHERE no longer accepts (they left it).
    pub(crate) left: Vec<RawCells>,
}

impl SnapshotPlan {
    /// The client evaluates the WHERE on the rows read (a resume in exact mode).
    fn filters_here(&self) -> Option<&Filter> {
        self.filter.as_deref().filter(|_| self.after_seq.is_some())
    }

    /// The page query; `$1` is the last key of the previous page when `has_cursor`.
    fn page_sql(&self, key: &str, has_cursor: bool, extra_columns: &str) -> String {
        let mut conditions = Vec::new();
        if let Some(filter) = self
            .parts
            .filter
            .as_ref()
            .filter(|_| self.filters_here().is_none())
        {
            conditions.push(format!("({filter})"));
        }
        if let Some(seq) = self.after_seq {
            conditions.push(format!("_seq > {seq}"));
        }
        if has_cursor {
            conditions.push(format!("{key} > $1"));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        format!(
            "SELECT {}{extra_columns} FROM {}{filter} ORDER BY {key} LIMIT {}",
            self.parts.projection, self.parts.table, self.page
        )
    }

    /// Columns the projection lacks but the snapshot needs (`_seq`, the key, and the
    /// WHERE's columns when it is evaluated here).
    fn extra_columns(&self, key: &str) -> String {
        let projection = self.parts.projection.trim();
        if projection == "*" {
            return String::new();
        }
        let listed: Vec<String> = projection
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
            .collect();
        let filter_columns = self.filters_here().map(Filter::columns).unwrap_or_default();
        let mut added: Vec<String> = Vec::new();
        let needed = [key, "_seq"]
            .into_iter()
            .chain(filter_columns.iter().map(|c| c.name.as_str()));
        for column in needed {
            let column = column.to_ascii_lowercase();
            if !listed.contains(&column) && !added.contains(&column) {
                added.push(column);
            }
        }
        added.iter().map(|c| format!(", {c}")).collect()
    }

    /// Reads the key column's name from the table when the ack did not flag one.
    async fn find_key(&self, client: &KalamClient) -> Result<String> {
        if let Some(key) = &self.key {
            return Ok(key.clone());
        }
        let probe = format!("SELECT * FROM {} LIMIT 1", self.parts.table);
        let rows: Vec<Row> = crate::query_as(probe).fetch_all(client).await?;
        // An empty table still reports its schema on the streamed path, but `Row` needs a
        // row; fall back to `id`, the SDK's default key.
        Ok(rows
            .first()
            .and_then(|r| r.columns().iter().find(|f| f.is_primary_key()))
            .map_or_else(|| "id".to_owned(), |f| f.name.clone()))
    }

    /// Runs the snapshot: the high-water mark, then keyset pages until one is empty.
    pub(crate) async fn run(self: Arc<Self>, client: KalamClient) -> Result<Snapshot> {
        let key = self.find_key(&client).await?;
        let high_water: Option<i64> = crate::query_as(format!(
            "SELECT MAX(_seq) AS max_seq FROM {}",
            self.parts.table
        ))
        .fetch_scalar(&client)
        .await
        .unwrap_or_else(|e| {
            tracing::debug!("MAX(_seq) not available, using the snapshot's: {e}");
            None
        });
        let extra = self.extra_columns(&key);
        let mut snapshot = Snapshot {
            high_water,
            ..Snapshot::default()
        };
        let mut cursor: Option<Cursor> = None;
        loop {
            let mut query = crate::query(self.page_sql(&key, cursor.is_some(), &extra));
            query = match &cursor {
                Some(Cursor::Int(v)) => query.bind(*v),
                Some(Cursor::Text(v)) => query.bind(v.as_str()),
                None => query,
            };
            let rows = query.fetch_all(&client).await?;
            snapshot.pages += 1;
            let Some(last) = rows.last() else { break };
            cursor = Some(Cursor::of(last, &key)?);
            for cells in rows.into_iter().map(raw_cells) {
                if super::filter::accepts(self.filters_here(), &cells)? {
                    snapshot.rows.push(cells);
                } else {
                    snapshot.left.push(cells);
                }
            }
        }
        Ok(snapshot)
    }
}

/// The last key of a page.
enum Cursor {
    Int(i64),
    Text(String),
}

impl Cursor {
    fn of(row: &Row, key: &str) -> Result<Cursor> {
        let field = row
            .columns()
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(key))
            .ok_or_else(|| Error::Protocol(format!("snapshot rows lack the key column `{key}`")))?;
        if field.data_type.is_integer() {
            row.try_get::<i64, _>(field.name.as_str()).map(Cursor::Int)
        } else {
            row.try_get::<String, _>(field.name.as_str())
                .map(Cursor::Text)
        }
    }
}

/// A positional HTTP row as a map column → raw cell, the shape of WebSocket rows. The cells
/// move over as they are: they were checked as JSON when the page was read.
fn raw_cells(row: Row) -> RawCells {
    let (columns, cells) = row.into_parts();
    super::Cells(
        columns
            .iter()
            .zip(cells)
            .map(|(f, cell)| (Box::from(f.name.as_str()), cell))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_projection_table_and_filter() {
        let p = split_live_sql(
            "select id, title FROM app.todos WHERE title = 'from x where' AND (done = false);",
        )
        .unwrap();
        assert_eq!(p.projection, "id, title");
        assert_eq!(p.table, "app.todos");
        assert_eq!(
            p.filter.as_deref(),
            Some("title = 'from x where' AND (done = false)")
        );
        let p = split_live_sql("SELECT * FROM app.t").unwrap();
        assert_eq!((p.projection.as_str(), p.filter), ("*", None));
        assert!(split_live_sql("DELETE FROM app.t").is_err());
        assert!(split_live_sql("SELECT * FROM app.t WHERE").is_err());
    }

    #[test]
    fn page_queries_page_by_key() {
        let plan = SnapshotPlan {
            parts: split_live_sql("SELECT title FROM app.t WHERE n = 1").unwrap(),
            key: Some("id".into()),
            after_seq: Some(42),
            page: 500,
            filter: None,
        };
        let extra = plan.extra_columns("id");
        assert_eq!(extra, ", id, _seq");
        assert_eq!(
            plan.page_sql("id", true, &extra),
            "SELECT title, id, _seq FROM app.t WHERE (n = 1) AND _seq > 42 AND id > $1 ORDER BY id LIMIT 500"
        );
    }

    #[test]
    fn a_resume_in_exact_mode_reads_the_filter_columns_and_no_where() {
        use kalam_schema::SqlType;
        use kalam_schema::filter::{FilterColumn, FilterMode, WhereClause};
        let columns = [FilterColumn::new("n", SqlType::Int, true)];
        let filter = WhereClause::parse("n = 1")
            .unwrap()
            .compile(&columns, FilterMode::Exact)
            .unwrap();
        let mut plan = SnapshotPlan {
            parts: split_live_sql("SELECT title FROM app.t WHERE n = 1").unwrap(),
            key: Some("id".into()),
            after_seq: Some(42),
            page: 500,
            filter: Some(Arc::new(filter)),
        };
        let extra = plan.extra_columns("id");
        assert_eq!(
            plan.page_sql("id", false, &extra),
            "SELECT title, id, _seq, n FROM app.t WHERE _seq > 42 ORDER BY id LIMIT 500"
        );
        // Without a checkpoint the SELECT evaluates the WHERE.
        plan.after_seq = None;
        let extra = plan.extra_columns("id");
        assert_eq!(
            plan.page_sql("id", false, &extra),
            "SELECT title, id, _seq FROM app.t WHERE (n = 1) ORDER BY id LIMIT 500"
        );
    }
}
