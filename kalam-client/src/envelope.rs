//! Typed decoding of a success envelope: rows go from the response text straight into `T`.
//!
//! The envelope is walked with serde seeds. When a result's `schema` precedes its `rows`
//! (what the server sends), each row array is read into a reused buffer of borrowed raw
//! cells and handed to [`KalamRow::from_row`] at once; no `serde_json::Value` is built. If
//! `rows` came first, the rows array is kept as one borrowed raw slice and decoded after the
//! schema.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::rewrite::HIDDEN_PREFIX;
use crate::row::{ColumnSpec, KalamRow, RowRef, resolve_columns};
use crate::wire::{ErrorDetail, ResponseStatus, SchemaField};

/// How to read one page of rows (the defaults read a response as it is).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PageOpts {
    /// Trailing columns the client added to the query (sort or paging keys): dropped from
    /// every row and from the schema the row types see.
    pub(crate) hidden: usize,
    /// Hand at most this many rows to the sink (the rest are still read and counted).
    pub(crate) take: Option<u64>,
    /// Keep the last row's cells (the cursor of keyset paging).
    pub(crate) keep_last: bool,
}

/// What a page held, besides the rows handed to the sink.
#[derive(Debug, Default)]
pub(crate) struct PageInfo {
    /// The sum of `row_count` over all results.
    pub(crate) row_count: u64,
    /// Rows in the first row set.
    pub(crate) rows: u64,
    /// Rows handed to the sink.
    pub(crate) taken: u64,
    /// The first row set's schema, hidden columns included.
    pub(crate) schema: Option<Arc<[SchemaField]>>,
    /// The last row's cells, hidden columns included (with [`PageOpts::keep_last`]).
    pub(crate) last: Option<Vec<Box<RawValue>>>,
}

/// Receives each decoded row of the first row set.
pub(crate) trait RowSink {
    /// Takes one row; an error stops the decoding and is returned as is.
    fn row(&mut self, row: &RowRef<'_>) -> Result<()>;
}

/// Collects every row. A plain impl rather than a closure: one function per row type, where
/// a closure behind `dyn FnMut` is its body plus two call shims (each `query!` record pays
/// for them; see BENCHMARKS.md, kalam-macros).
impl<T: KalamRow> RowSink for Vec<T> {
    fn row(&mut self, row: &RowRef<'_>) -> Result<()> {
        match T::from_row(row) {
            Ok(value) => {
                self.push(value);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Keeps the first row, decoding the later ones only to report a bad one (as
/// [`Vec`]'s sink would).
pub(crate) struct First<T>(pub(crate) Option<T>);

impl<T: KalamRow> RowSink for First<T> {
    fn row(&mut self, row: &RowRef<'_>) -> Result<()> {
        let value = T::from_row(row)?;
        if self.0.is_none() {
            self.0 = Some(value);
        }
        Ok(())
    }
}

/// Ignores the rows (a statement run for its row count).
pub(crate) struct Discard;

impl RowSink for Discard {
    fn row(&mut self, _: &RowRef<'_>) -> Result<()> {
        Ok(())
    }
}

type Sink<'a> = &'a mut dyn RowSink;

struct State<'a> {
    /// The columns the rows are read as (`KalamRow::columns` of the row type).
    columns: &'a [ColumnSpec],
    sink: Sink<'a>,
    opts: PageOpts,
    info: PageInfo,
    /// Whether a row set was decoded already (only the first one is).
    rows_taken: bool,
    row_count: u64,
    status: Option<ResponseStatus>,
    error: Option<ErrorDetail>,
    /// The real error behind a serde error we had to raise from inside a visitor.
    failure: Option<Error>,
}

impl State<'_> {
    fn fail<E: de::Error>(&mut self, err: Error) -> E {
        let msg = err.to_string();
        self.failure = Some(err);
        E::custom(msg)
    }
}

type Shared<'s, 'a> = &'s RefCell<State<'a>>;

/// Decodes a 2xx SQL response body: each row of the first row set, read as `columns`, is
/// handed to `sink`; returns the sum of `row_count` over all results.
pub(crate) fn decode_rows(
    body: &[u8],
    columns: &[ColumnSpec],
    sink: &mut dyn RowSink,
) -> Result<u64> {
    decode_page(body, columns, sink, PageOpts::default()).map(|info| info.row_count)
}

/// [`decode_rows`], reading the rows as `opts` says and telling what the page held.
pub(crate) fn decode_page(
    body: &[u8],
    columns: &[ColumnSpec],
    sink: &mut dyn RowSink,
    opts: PageOpts,
) -> Result<PageInfo> {
    let text = std::str::from_utf8(body)
        .map_err(|e| Error::Protocol(format!("response is not UTF-8: {e}")))?;
    let state = RefCell::new(State {
        columns,
        sink,
        opts,
        info: PageInfo::default(),
        rows_taken: false,
        row_count: 0,
        status: None,
        error: None,
        failure: None,
    });
    let mut de = serde_json::Deserializer::from_str(text);
    let outcome = EnvelopeSeed(&state)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    let state = state.into_inner();
    if let Some(failure) = state.failure {
        return Err(failure);
    }
    if let Err(e) = outcome {
        return Err(Error::Protocol(format!("malformed SQL response: {e}")));
    }
    if let Some(detail) = state.error {
        return Err(detail.into_error());
    }
    match state.status {
        Some(ResponseStatus::Success) => Ok(PageInfo {
            row_count: state.row_count,
            ..state.info
        }),
        Some(ResponseStatus::Error) => Err(Error::Protocol(
            "error response without an error object".to_owned(),
        )),
        None => Err(Error::Protocol("SQL response has no status".to_owned())),
    }
}

/// The schema the row types see: `schema` without the `hidden` trailing columns the client
/// added (each must carry the client's prefix, so a user's column is never dropped).
fn visible_schema(schema: &Arc<[SchemaField]>, hidden: usize) -> Result<Arc<[SchemaField]>> {
    if hidden == 0 {
        return Ok(Arc::clone(schema));
    }
    let keep = schema.len().checked_sub(hidden);
    match keep {
        Some(keep)
            if schema[keep..]
                .iter()
                .all(|f| f.name.starts_with(HIDDEN_PREFIX)) =>
        {
            Ok(schema[..keep].into())
        }
        _ => Err(Error::Protocol(format!(
            "the result lacks the {hidden} column(s) the client added to the query"
        ))),
    }
}

struct EnvelopeSeed<'s, 'a>(Shared<'s, 'a>);

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SQL response envelope")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "status" => self.0.borrow_mut().status = Some(map.next_value()?),
                "results" => map.next_value_seed(ResultsSeed(self.0))?,
                "error" => self.0.borrow_mut().error = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct ResultsSeed<'s, 'a>(Shared<'s, 'a>);

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of results")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(ResultSeed(self.0))?.is_some() {}
        Ok(())
    }
}

struct ResultSeed<'s, 'a>(Shared<'s, 'a>);

impl<'de> DeserializeSeed<'de> for ResultSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResultSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a statement result")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let wanted = !self.0.borrow().rows_taken;
        let mut schema: Option<Arc<[SchemaField]>> = None;
        let mut positions: Option<Vec<usize>> = None;
        let mut late_rows: Option<&'de RawValue> = None;
        let mut rows_seen = false;
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "schema" => {
                    let fields: Vec<SchemaField> = map.next_value()?;
                    schema = Some(fields.into());
                }
                "rows" if wanted => {
                    rows_seen = true;
                    if let Some(schema) = &schema {
                        let (pos, visible) = match self.prepare(schema) {
                            Ok(p) => p,
                            Err(e) => return Err(self.0.borrow_mut().fail(e)),
                        };
                        map.next_value_seed(RowsSeed {
                            state: self.0,
                            positions: &pos,
                            schema: &visible,
                            width: schema.len(),
                        })?;
                        positions = Some(pos);
                    } else {
                        late_rows = map.next_value::<Option<&'de RawValue>>()?;
                    }
                }
                "row_count" => {
                    let n: u64 = map.next_value()?;
                    let mut st = self.0.borrow_mut();
                    st.row_count = st.row_count.saturating_add(n);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !wanted || !rows_seen || positions.is_some() {
            return Ok(());
        }
        // `rows` came before `schema` (or without one).
        let schema = schema.unwrap_or_else(|| Vec::new().into());
        let (pos, visible) = match self.prepare(&schema) {
            Ok(p) => p,
            Err(e) => return Err(self.0.borrow_mut().fail(e)),
        };
        if let Some(raw) = late_rows {
            let mut de = serde_json::Deserializer::from_str(raw.get());
            RowsSeed {
                state: self.0,
                positions: &pos,
                schema: &visible,
                width: schema.len(),
            }
            .deserialize(&mut de)
            .map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

impl ResultSeed<'_, '_> {
    /// Takes the first row set: records its schema and resolves the row type's columns in
    /// the part of it the row type sees.
    fn prepare(&self, schema: &Arc<[SchemaField]>) -> Result<(Vec<usize>, Arc<[SchemaField]>)> {
        let mut state = self.0.borrow_mut();
        state.rows_taken = true;
        state.info.schema = Some(Arc::clone(schema));
        let visible = visible_schema(schema, state.opts.hidden)?;
        let pos = resolve_for(state.columns, &visible)?;
        Ok((pos, visible))
    }
}

fn resolve_for(specs: &[ColumnSpec], schema: &[SchemaField]) -> Result<Vec<usize>> {
    if schema.is_empty() && !specs.is_empty() {
        return Err(Error::Protocol(
            "the result has rows but no schema".to_owned(),
        ));
    }
    resolve_columns(specs, schema)
}

struct RowsSeed<'s, 'a> {
    state: Shared<'s, 'a>,
    positions: &'s [usize],
    /// The columns the row type sees.
    schema: &'s Arc<[SchemaField]>,
    /// Cells per row, hidden columns included.
    width: usize,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of rows")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let width = self.width;
        let visible = self.schema.len();
        let (take, keep_last) = {
            let state = self.state.borrow();
            (state.opts.take.unwrap_or(u64::MAX), state.opts.keep_last)
        };
        let mut n = 0u64;
        let mut cells: Vec<&'de RawValue> = Vec::with_capacity(width);
        while seq
            .next_element_seed(CellsSeed { cells: &mut cells })?
            .is_some()
        {
            if cells.len() != width {
                let err = Error::Protocol(format!(
                    "row {n} has {} cells but the schema has {width} columns",
                    cells.len()
                ));
                return Err(self.state.borrow_mut().fail(err));
            }
            if n < take {
                let row = RowRef {
                    cells: &cells[..visible],
                    positions: self.positions,
                    schema: self.schema,
                };
                let delivered = {
                    let mut state = self.state.borrow_mut();
                    state.sink.row(&row)
                };
                if let Err(e) = delivered {
                    return Err(self.state.borrow_mut().fail(e));
                }
            }
            n += 1;
        }
        let mut state = self.state.borrow_mut();
        state.info.rows = n;
        state.info.taken = n.min(take);
        if keep_last && n > 0 {
            state.info.last = Some(cells.iter().map(|c| (*c).to_owned()).collect());
        }
        Ok(())
    }
}

/// Reads one row array into `cells` (cleared first), borrowing each cell's raw text.
struct CellsSeed<'b, 'de> {
    cells: &'b mut Vec<&'de RawValue>,
}

impl<'de> DeserializeSeed<'de> for CellsSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CellsSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.cells.clear();
        while let Some(cell) = seq.next_element::<&'de RawValue>()? {
            self.cells.push(cell);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// What the verbs see of a body: the rows (as `fetch_all`) and the row count (as
    /// `execute`), each decoded on its own.
    #[derive(Debug)]
    struct Decoded<T> {
        rows: Vec<T>,
        row_count: u64,
    }

    fn decode_envelope<T: KalamRow>(body: &[u8]) -> Result<Decoded<T>> {
        let mut rows = Vec::new();
        decode_rows(body, T::columns(), &mut rows)?;
        let row_count = decode_rows(body, &[], &mut Discard)?;
        Ok(Decoded { rows, row_count })
    }

    use super::*;
    use crate::row::{ColumnSpec, Row};
    use crate::types::{Date, Decimal, FileRef, Json, JsonValue, Time, Timestamp, Uuid};

    /// The `app.todos` schema of protocol 11 (TODOS_SCHEMA).
    const TODOS_SCHEMA: &str = r#"[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},
 {"name":"title","data_type":"Text","index":1,"flags":["nn"]},
 {"name":"done","data_type":"Boolean","index":2,"flags":["nn"]},
 {"name":"due_at","data_type":"Timestamp","index":3},
 {"name":"price","data_type":{"Decimal":{"precision":10,"scale":2}},"index":4},
 {"name":"_seq","data_type":"BigInt","index":5,"flags":["nn"]},
 {"name":"_deleted","data_type":"Boolean","index":6,"flags":["nn"]}]"#;

    fn h13() -> String {
        format!(
            r#"{{"status":"success","results":[{{"schema":{TODOS_SCHEMA},
  "rows":[["1","Buy milk",false,1748822400000000,"3.50","384961449138425856",false],
          ["2","Call Bob",false,null,null,"384961450442854400",false]],
  "row_count":2,"as_user":"alice"}}],"took":2.257,"error":null}}"#
        )
    }

    #[derive(Debug, PartialEq)]
    struct Todo {
        id: i64,
        title: String,
        price: Option<Decimal>,
        due_at: Option<Timestamp>,
        seq: i64,
    }

    impl KalamRow for Todo {
        fn columns() -> &'static [ColumnSpec] {
            const C: &[ColumnSpec] = &[
                ColumnSpec::named::<i64>("id"),
                ColumnSpec::named::<String>("title"),
                ColumnSpec::named::<Option<Decimal>>("price"),
                ColumnSpec::named::<Option<Timestamp>>("due_at"),
                ColumnSpec::named::<i64>("_seq"),
            ];
            C
        }
        fn from_row(row: &RowRef<'_>) -> Result<Self> {
            Ok(Todo {
                id: row.get(0)?,
                title: row.get(1)?,
                price: row.get(2)?,
                due_at: row.get(3)?,
                seq: row.get(4)?,
            })
        }
    }

    #[test]
    fn h13_decodes_by_name_in_any_order() {
        let d = decode_envelope::<Todo>(h13().as_bytes()).unwrap();
        assert_eq!(d.row_count, 2);
        assert_eq!(
            d.rows[0],
            Todo {
                id: 1,
                title: "Buy milk".into(),
                price: Some("3.50".parse().unwrap()),
                due_at: Some(Timestamp::from_micros(1_748_822_400_000_000)),
                seq: 384_961_449_138_425_856,
            }
        );
        assert_eq!(d.rows[1].price, None);
        assert_eq!(d.rows[1].due_at, None);
    }

    #[test]
    fn rows_before_schema_still_decode() {
        let body = format!(
            r#"{{"results":[{{"rows":[["1","Buy milk",false,null,"3.50","5",false]],"row_count":1,"schema":{TODOS_SCHEMA}}}],"status":"success","took":1}}"#
        );
        let d = decode_envelope::<Todo>(body.as_bytes()).unwrap();
        assert_eq!(d.rows.len(), 1);
        assert_eq!(d.rows[0].seq, 5);
    }

    #[test]
    fn missing_column_is_a_schema_mismatch_before_any_row() {
        let body = h13().replace(r#""name":"title""#, r#""name":"name""#);
        match decode_envelope::<Todo>(body.as_bytes()).unwrap_err() {
            Error::SchemaMismatch { column, found, .. } => {
                assert_eq!(column, "title");
                assert!(found.contains("no such column"), "{found}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn incompatible_type_is_a_schema_mismatch() {
        let body = h13().replace(
            r#""name":"id","data_type":"BigInt""#,
            r#""name":"id","data_type":"Boolean""#,
        );
        match decode_envelope::<Todo>(body.as_bytes()).unwrap_err() {
            Error::SchemaMismatch {
                column,
                expected,
                found,
            } => {
                assert_eq!((column.as_str(), expected.as_str()), ("id", "i64"));
                assert_eq!(found, "BOOLEAN");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn null_in_nn_column_of_outer_join_is_a_decode_error_naming_the_column() {
        // Outer joins keep `nn` on columns that carry NULLs (protocol 1.7): Option works…
        let body = r#"{"status":"success","results":[{"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"name","data_type":"Text","index":1,"flags":["nn"]}],"rows":[["1",null]],"row_count":1}],"took":1,"error":null}"#;
        let rows = decode_envelope::<(i64, Option<String>)>(body.as_bytes()).unwrap();
        assert_eq!(rows.rows, vec![(1, None)]);
        // …and a non-Option field gets a Decode error naming the column.
        match decode_envelope::<(i64, String)>(body.as_bytes()).unwrap_err() {
            Error::Decode { column, found, .. } => {
                assert_eq!(column, "name");
                assert_eq!(found, "NULL");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn aliased_cast_described_by_source_column_is_accepted() {
        // `SELECT CAST(qty AS BIGINT) AS q, CAST(id AS TEXT) AS s` on an empty table.
        let body = r#"{"status":"success","results":[{"schema":[{"name":"q","data_type":"Int","index":0,"flags":["nn"]},{"name":"s","data_type":"BigInt","index":1,"flags":["pk","nn","uq"]}],"rows":[],"row_count":0}],"took":1,"error":null}"#;
        let d = decode_envelope::<(i64, String)>(body.as_bytes()).unwrap();
        assert!(d.rows.is_empty());
    }

    #[test]
    fn dml_has_no_rows_and_counts() {
        let body = r#"{"status":"success","results":[{"row_count":2,"message":"Inserted 2 row(s)","as_user":"alice"},{"row_count":1,"message":"Updated 1 row(s)","as_user":"alice"}],"took":8.3}"#;
        let d = decode_envelope::<Todo>(body.as_bytes()).unwrap();
        assert!(d.rows.is_empty());
        assert_eq!(d.row_count, 3);
    }

    #[test]
    fn first_row_set_of_a_batch_is_decoded() {
        let body = r#"{"status":"success","results":[
  {"schema":[{"name":"n","data_type":"BigInt","index":0}],"rows":[["3"]],"row_count":1,"as_user":"alice"},
  {"row_count":2,"message":"Inserted 2 row(s)","as_user":"alice"}],"took":8.307}"#;
        let d = decode_envelope::<(i64,)>(body.as_bytes()).unwrap();
        assert_eq!(d.rows, vec![(3,)]);
    }

    #[test]
    fn error_envelope_and_garbage() {
        let body = r#"{"status":"error","results":[],"took":0.1,"error":{"code":"INVALID_SQL","message":"x"}}"#;
        assert!(matches!(
            decode_envelope::<Row>(body.as_bytes()).unwrap_err(),
            Error::Sql { .. }
        ));
        assert!(matches!(
            decode_envelope::<Row>(b"{\"status\":\"success\",\"results\":[").unwrap_err(),
            Error::Protocol(_)
        ));
        let short = r#"{"status":"success","results":[{"schema":[{"name":"a","data_type":"Int","index":0},{"name":"b","data_type":"Int","index":1}],"rows":[[1]],"row_count":1}]}"#;
        assert!(matches!(
            decode_envelope::<Row>(short.as_bytes()).unwrap_err(),
            Error::Protocol(_)
        ));
    }

    #[test]
    fn every_wire_encoding_into_one_row() {
        let body = r#"{"status":"success","results":[{"schema":[
 {"name":"b","data_type":"Boolean","index":0},
 {"name":"s","data_type":"SmallInt","index":1},
 {"name":"i","data_type":"Int","index":2},
 {"name":"l","data_type":"BigInt","index":3},
 {"name":"f","data_type":"Float","index":4},
 {"name":"d","data_type":"Double","index":5},
 {"name":"t","data_type":"Text","index":6},
 {"name":"ts","data_type":"Timestamp","index":7},
 {"name":"dt","data_type":"Date","index":8},
 {"name":"tm","data_type":"Time","index":9},
 {"name":"u","data_type":"Uuid","index":10},
 {"name":"j","data_type":"Json","index":11},
 {"name":"by","data_type":"Bytes","index":12},
 {"name":"e","data_type":{"Embedding":3},"index":13},
 {"name":"dec","data_type":{"Decimal":{"precision":10,"scale":2}},"index":14},
 {"name":"file","data_type":"File","index":15}],
 "rows":[[true,-5,42,"9007199254740993",0.10000000149011612,2.5,"hi",1748736005000000,20240,45296000000,
   "0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11","{\"a\":[1,2]}",[104,105],[0.25,-1.0,0.5],"-12.35",
   "{\"id\":\"1\",\"sub\":\"f0001\",\"name\":\"x.pdf\",\"size\":13,\"mime\":\"application/pdf\",\"sha256\":\"ab\"}"]],
 "row_count":1}],"took":1,"error":null}"#;
        let d = decode_envelope::<Row>(body.as_bytes()).unwrap();
        let r = &d.rows[0];
        assert!(r.get::<bool, _>("b"));
        assert_eq!(r.get::<i16, _>("s"), -5);
        assert_eq!(r.get::<i32, _>("i"), 42);
        assert_eq!(r.get::<i64, _>("l"), 9_007_199_254_740_993);
        assert_eq!(r.get::<f32, _>("f"), 0.1);
        assert_eq!(r.get::<f64, _>("d"), 2.5);
        assert_eq!(r.get::<String, _>("t"), "hi");
        assert_eq!(
            r.get::<Timestamp, _>("ts").to_string(),
            "2025-06-01T00:00:05Z"
        );
        assert_eq!(r.get::<Date, _>("dt").to_string(), "2025-06-01");
        assert_eq!(r.get::<Time, _>("tm").to_string(), "12:34:56");
        assert_eq!(
            r.get::<Uuid, _>("u").to_string(),
            "0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11"
        );
        assert_eq!(r.get::<JsonValue, _>("j")["a"][1], 2);
        #[derive(serde::Deserialize)]
        struct A {
            a: Vec<i32>,
        }
        assert_eq!(r.get::<Json<A>, _>("j").a, vec![1, 2]);
        assert_eq!(r.get::<Vec<u8>, _>("by"), b"hi");
        assert_eq!(r.get::<Vec<f32>, _>("e"), vec![0.25, -1.0, 0.5]);
        assert_eq!(r.get::<Decimal, _>("dec").to_string(), "-12.35");
        assert_eq!(r.get::<FileRef, _>("file").size, 13);
        assert_eq!(
            r.get::<Option<FileRef>, _>(15).map(|f| f.sub),
            Some("f0001".into())
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            crate::proptest_config(128)
        }

        /// A streamed answer (protocol 1.4) with columns `id BIGINT`, `n INT`, `t TEXT` and
        /// these rows (JSON text of each row array).
        fn answer(rows: &[String]) -> String {
            format!(
                r#"{{"status":"success","results":[{{"schema":[{{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]}},{{"name":"n","data_type":"Int","index":1}},{{"name":"t","data_type":"Text","index":2}}],"rows":[{}],"row_count":{}}}],"took":0.1,"error":null}}"#,
                rows.join(","),
                rows.len()
            )
        }

        /// A JSON value of any shape, as text.
        fn json_text() -> impl Strategy<Value = String> {
            let leaf = prop_oneof![
                Just("null".to_owned()),
                any::<bool>().prop_map(|b| b.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(|f| f.to_string()),
                "[1-9][0-9]{0,29}".prop_map(|d| d),
                any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            ];
            leaf.prop_recursive(2, 8, 4, |inner| {
                prop::collection::vec(inner, 0..4).prop_map(|v| format!("[{}]", v.join(",")))
            })
        }

        type Triple = (i64, Option<i32>, String);

        proptest! {
            #![proptest_config(config())]

            /// Rows as the server encodes them (BIGINT as a string, INT as a number, TEXT as a
            /// JSON string) decode into exactly the values encoded, in order.
            #[test]
            fn typed_rows_round_trip(rows in prop::collection::vec(any::<Triple>(), 0..20)) {
                let encoded: Vec<String> = rows
                    .iter()
                    .map(|(id, n, t)| {
                        let n = n.map_or("null".to_owned(), |n| n.to_string());
                        format!("[\"{id}\",{n},{}]", serde_json::to_string(t).unwrap())
                    })
                    .collect();
                let decoded = decode_envelope::<Triple>(answer(&encoded).as_bytes()).unwrap();
                prop_assert_eq!(decoded.rows, rows);
            }

            /// Any cells in a well-formed answer: a value or a typed error, never a panic, and
            /// an error names a column of the row type.
            #[test]
            fn arbitrary_cells_decode_or_fail_cleanly(cells in prop::collection::vec(json_text(), 3)) {
                let body = answer(&[format!("[{}]", cells.join(","))]);
                match decode_envelope::<Triple>(body.as_bytes()) {
                    Ok(d) => prop_assert_eq!(d.rows.len(), 1),
                    Err(Error::Decode { column, .. }) => {
                        prop_assert!(["id", "n", "t"].contains(&column.as_str()), "{}", column);
                    }
                    Err(e) => prop_assert!(false, "unexpected error {:?}", e),
                }
            }

            /// Arbitrary bytes, and every prefix of a good answer: never a panic.
            #[test]
            fn arbitrary_bodies_never_panic(
                bytes in prop::collection::vec(any::<u8>(), 0..256),
                rows in prop::collection::vec(any::<Triple>(), 1..4),
                cut in any::<prop::sample::Index>(),
            ) {
                let _ = decode_envelope::<Triple>(&bytes);
                let _ = decode_envelope::<Row>(&bytes);
                let encoded: Vec<String> = rows
                    .iter()
                    .map(|(id, n, t)| format!("[\"{id}\",{},{}]", n.unwrap_or(0), serde_json::to_string(t).unwrap()))
                    .collect();
                let body = answer(&encoded);
                let prefix = &body.as_bytes()[..cut.index(body.len())];
                prop_assert!(decode_envelope::<Triple>(prefix).is_err());
            }
        }
    }
}
