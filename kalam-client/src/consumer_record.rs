//! [`TopicRecord`]: one topic message, and decoding its payload into typed rows.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use kalam_schema::SqlType;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::decode::{Cell, FromCell};
use crate::error::{Error, Result};
use crate::live::Cells;
use crate::row::{KalamRow, RowRef};
use crate::wire::SchemaField;

/// The row change that published a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum TopicOp {
    /// A row was inserted (also the default when the server leaves `op` out).
    #[default]
    #[serde(alias = "insert", alias = "INSERT")]
    Insert,
    /// A row was updated.
    #[serde(alias = "update", alias = "UPDATE")]
    Update,
    /// A row was deleted.
    #[serde(alias = "delete", alias = "DELETE")]
    Delete,
}

/// One message of `POST /v1/api/topics/consume` as sent.
#[derive(Deserialize)]
pub(crate) struct WireMessage {
    #[serde(default)]
    topic_id: Option<String>,
    #[serde(default)]
    partition_id: u32,
    offset: u64,
    #[serde(default)]
    payload: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    timestamp_ms: i64,
    #[serde(default, alias = "user_id", alias = "username")]
    user: Option<String>,
    #[serde(default)]
    op: TopicOp,
}

impl WireMessage {
    pub(crate) fn into_record(self, topic: &str) -> Result<TopicRecord> {
        let payload = base64::engine::general_purpose::STANDARD
            .decode(self.payload.trim())
            .map_err(|e| {
                Error::Protocol(format!(
                    "topic message at offset {} has a payload that is not base64: {e}",
                    self.offset
                ))
            })?;
        Ok(TopicRecord {
            topic: self.topic_id.unwrap_or_else(|| topic.to_owned()),
            partition: self.partition_id,
            offset: self.offset,
            key: self.key,
            op: self.op,
            user: self.user,
            timestamp_ms: self.timestamp_ms,
            payload: Bytes::from(payload),
        })
    }
}

/// One topic message: where it sits, what published it, and its payload (the changed row
/// as JSON, cells encoded as in query results).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicRecord {
    /// The topic, `namespace.name`.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// The offset in the partition (gap-free from 0).
    pub offset: u64,
    /// The row's primary key as text (a JSON object for composite keys).
    pub key: Option<String>,
    /// Insert, update or delete.
    pub op: TopicOp,
    /// The user who produced the change (the USER-table row's owner), when known.
    pub user: Option<String>,
    /// When it was published, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The raw payload bytes (UTF-8 JSON).
    pub payload: Bytes,
}

fn text_column(name: &str, index: usize) -> SchemaField {
    SchemaField {
        name: name.to_owned(),
        data_type: SqlType::Text,
        index,
        flags: Vec::new(),
    }
}

impl TopicRecord {
    /// The payload parsed once, for reading several things from it: its
    /// [source table](ParsedPayload::source_table), [columns](ParsedPayload::get) and
    /// [row](ParsedPayload::decode_row). The accessors of the same names on `TopicRecord`
    /// parse the payload on every call.
    ///
    /// ```
    /// # use kalam_client::consumer::TopicRecord;
    /// # fn handle(record: &TopicRecord) -> kalam_client::Result<()> {
    /// let payload = record.parse()?;
    /// if payload.source_table().as_deref() == Some("shop.orders") {
    ///     let id: i64 = payload.get("id")?;
    ///     println!("order {id}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn parse(&self) -> Result<ParsedPayload> {
        let cells = serde_json::from_slice(&self.payload).map_err(|e| {
            Error::Protocol(format!(
                "topic message {}/{}/{} has a payload that is not a JSON object: {e}",
                self.topic, self.partition, self.offset
            ))
        })?;
        Ok(ParsedPayload { cells })
    }

    /// The payload parsed into any serde type (cells keep their wire encoding: BIGINT as a
    /// string, TIMESTAMP as microseconds, …).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.payload).map_err(|e| {
            Error::decode(
                format!("payload at offset {}", self.offset),
                std::any::type_name::<T>(),
                e.to_string(),
            )
        })
    }

    /// One column of the payload, decoded like a query cell; an absent column decodes as
    /// NULL. See [`ParsedPayload::get`].
    pub fn get<T: FromCell>(&self, column: &str) -> Result<T> {
        self.parse()?.get(column)
    }

    /// The source table of the change, `namespace.table`. See
    /// [`ParsedPayload::source_table`].
    pub fn source_table(&self) -> Option<String> {
        self.parse().ok()?.source_table()
    }

    /// The payload decoded into a [`TopicPayload`]: any [`KalamRow`] type, or an enum over
    /// the source tables of a multi-source topic.
    pub fn decode<T: TopicPayload>(&self) -> Result<T> {
        T::from_record(self)
    }

    /// The payload decoded into a row type. See [`ParsedPayload::decode_row`].
    pub fn decode_row<T: KalamRow>(&self) -> Result<T> {
        self.parse()?.decode_row()
    }
}

/// A topic record's payload, parsed: its cells by column name. Made by
/// [`TopicRecord::parse`].
#[derive(Debug, Clone)]
pub struct ParsedPayload {
    cells: Cells,
}

impl ParsedPayload {
    /// One column, decoded like a query cell; an absent column decodes as NULL (so it is
    /// an error for a non-`Option` type).
    ///
    /// ```
    /// # use kalam_client::consumer::TopicRecord;
    /// # fn handle(record: &TopicRecord) -> kalam_client::Result<()> {
    /// let payload = record.parse()?;
    /// let title: String = payload.get("title")?;
    /// let note: Option<String> = payload.get("note")?;
    /// # Ok(()) }
    /// ```
    pub fn get<T: FromCell>(&self, column: &str) -> Result<T> {
        let raw = self.cells.get(column).map_or("null", RawValue::get);
        T::from_cell(&Cell::new(raw, column, None))
    }

    /// The source table of the change, `namespace.table`, from the payload's `_table`
    /// (which the server writes as `namespace:table`). `None` when the payload has no
    /// `_table` (topics whose routes use `payload = 'key'`).
    ///
    /// ```
    /// # use kalam_client::consumer::TopicRecord;
    /// # fn handle(record: &TopicRecord) -> kalam_client::Result<()> {
    /// match record.parse()?.source_table().as_deref() {
    ///     Some("shop.orders") => println!("an order"),
    ///     other => println!("something else: {other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn source_table(&self) -> Option<String> {
        let table: String = serde_json::from_str(self.cells.get("_table")?.get()).ok()?;
        Some(table.replacen(':', ".", 1))
    }

    /// The payload decoded into a row type. Columns are matched by name (then
    /// case-insensitively); a column missing from the payload decodes as NULL. Positional
    /// row types (tuples) cannot be used: the payload has no column order.
    ///
    /// ```
    /// # use kalam_client::consumer::TopicRecord;
    /// use kalam_client::Row;
    ///
    /// # fn handle(record: &TopicRecord) -> kalam_client::Result<()> {
    /// let row: Row = record.parse()?.decode_row()?;
    /// println!("{} columns", row.len());
    /// # Ok(()) }
    /// ```
    pub fn decode_row<T: KalamRow>(&self) -> Result<T> {
        let cells = &self.cells;
        let specs = T::columns();
        let (raw, schema): (Vec<&RawValue>, Vec<SchemaField>) = if specs.is_empty() {
            // A row type that reads whatever is there (`Row`): every cell, in payload order.
            cells
                .entries()
                .enumerate()
                .map(|(i, (name, raw))| (raw, text_column(name, i)))
                .unzip()
        } else {
            let mut raw = Vec::with_capacity(specs.len());
            let mut schema = Vec::with_capacity(specs.len());
            for (i, spec) in specs.iter().enumerate() {
                if spec.name.is_empty() {
                    return Err(Error::SchemaMismatch {
                        column: format!("#{i}"),
                        expected: spec.expected.to_owned(),
                        found: "a topic payload (columns have names, not positions)".to_owned(),
                    });
                }
                raw.push(cells.get(spec.name).unwrap_or(RawValue::NULL));
                schema.push(text_column(spec.name, i));
            }
            (raw, schema)
        };
        let positions: Vec<usize> = (0..specs.len()).collect();
        let schema: Arc<[SchemaField]> = schema.into();
        T::from_row(&RowRef {
            cells: &raw,
            positions: &positions,
            schema: &schema,
        })
    }
}

/// A type a topic payload decodes into. Every [`KalamRow`] is one; for a topic fed by
/// several tables, write an enum and pick the variant by [`ParsedPayload::source_table`]:
///
/// ```
/// use kalam_client::consumer::{TopicPayload, TopicRecord};
/// use kalam_client::{ColumnSpec, Error, KalamRow, Result, RowRef};
///
/// struct Order { id: i64 }
/// struct Refund { id: i64, order_id: i64 }
/// # impl KalamRow for Order {
/// #     fn columns() -> &'static [ColumnSpec] { const C: &[ColumnSpec] = &[ColumnSpec::named::<i64>("id")]; C }
/// #     fn from_row(row: &RowRef<'_>) -> Result<Self> { Ok(Order { id: row.get(0)? }) }
/// # }
/// # impl KalamRow for Refund {
/// #     fn columns() -> &'static [ColumnSpec] {
/// #         const C: &[ColumnSpec] = &[ColumnSpec::named::<i64>("id"), ColumnSpec::named::<i64>("order_id")]; C
/// #     }
/// #     fn from_row(row: &RowRef<'_>) -> Result<Self> { Ok(Refund { id: row.get(0)?, order_id: row.get(1)? }) }
/// # }
///
/// enum ShopEvent { Order(Order), Refund(Refund) }
///
/// impl TopicPayload for ShopEvent {
///     fn from_record(record: &TopicRecord) -> Result<Self> {
///         let payload = record.parse()?;
///         match payload.source_table().as_deref() {
///             Some("shop.orders") => payload.decode_row().map(ShopEvent::Order),
///             Some("shop.refunds") => payload.decode_row().map(ShopEvent::Refund),
///             other => Err(Error::Decode {
///                 column: "_table".into(),
///                 expected: "shop.orders or shop.refunds".into(),
///                 found: format!("{other:?}"),
///             }),
///         }
///     }
/// }
/// ```
pub trait TopicPayload: Sized {
    /// Decodes the record's payload.
    fn from_record(record: &TopicRecord) -> Result<Self>;
}

/// Declares an enum over the source tables of a multi-source topic and its
/// [`TopicPayload`] impl: each variant wraps the [`KalamRow`] type of one table, chosen by
/// [`ParsedPayload::source_table`] (`namespace.table`; the payload is parsed once). A record
/// of another table is an [`Error::Decode`] naming `_table`; a payload that is not a JSON
/// object is an [`Error::Protocol`].
///
/// ```
/// use kalam_client::{ColumnSpec, KalamRow, Result, RowRef, topic_payload};
/// # struct Order { id: i64 }
/// # impl KalamRow for Order {
/// #     fn columns() -> &'static [ColumnSpec] { const C: &[ColumnSpec] = &[ColumnSpec::named::<i64>("id")]; C }
/// #     fn from_row(row: &RowRef<'_>) -> Result<Self> { Ok(Order { id: row.get(0)? }) }
/// # }
/// # struct Refund { id: i64 }
/// # impl KalamRow for Refund {
/// #     fn columns() -> &'static [ColumnSpec] { const C: &[ColumnSpec] = &[ColumnSpec::named::<i64>("id")]; C }
/// #     fn from_row(row: &RowRef<'_>) -> Result<Self> { Ok(Refund { id: row.get(0)? }) }
/// # }
/// topic_payload! {
///     /// Everything that happens in the shop.
///     pub enum ShopEvent {
///         "shop.orders" => Order(Order),
///         "shop.refunds" => Refund(Refund),
///     }
/// }
/// # fn handle(record: &kalam_client::consumer::TopicRecord) -> Result<()> {
/// match record.decode::<ShopEvent>()? {
///     ShopEvent::Order(order) => println!("order {}", order.id),
///     ShopEvent::Refund(refund) => println!("refund {}", refund.id),
/// }
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! topic_payload {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($table:literal => $variant:ident($row:ty)),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                #[doc = concat!("A change of `", $table, "`.")]
                $variant($row),
            )+
        }

        impl $crate::consumer::TopicPayload for $name {
            fn from_record(
                record: &$crate::consumer::TopicRecord,
            ) -> $crate::Result<Self> {
                let payload = record.parse()?;
                let table = payload.source_table();
                $(
                    if table.as_deref() == Some($table) {
                        return payload.decode_row::<$row>().map($name::$variant);
                    }
                )+
                Err($crate::Error::Decode {
                    column: "_table".to_owned(),
                    expected: concat!($($table, " "),+).trim_end().replace(' ', " or "),
                    found: table.unwrap_or_else(|| "no source table".to_owned()),
                })
            }
        }
    };
}

impl<T: KalamRow> TopicPayload for T {
    fn from_record(record: &TopicRecord) -> Result<Self> {
        record.decode_row()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::AutoOffsetReset;
    use crate::row::Row;

    fn record(payload: &str) -> TopicRecord {
        let wire = format!(
            r#"{{"topic_id":"app.t","partition_id":1,"offset":4,"payload":"{}","key":"1","timestamp_ms":5,"user_id":"alice","op":"Update"}}"#,
            base64::engine::general_purpose::STANDARD.encode(payload)
        );
        serde_json::from_str::<WireMessage>(&wire)
            .unwrap()
            .into_record("app.t")
            .unwrap()
    }

    #[test]
    fn records_decode_rows_and_tables() {
        let r = record(r#"{"id":"9007199254740993","title":"x","_seq":"7","_table":"app:todos"}"#);
        assert_eq!((r.partition, r.offset, r.op), (1, 4, TopicOp::Update));
        assert_eq!(r.user.as_deref(), Some("alice"));
        assert_eq!(r.source_table().as_deref(), Some("app.todos"));
        assert_eq!(r.get::<i64>("id").unwrap(), 9_007_199_254_740_993);
        assert_eq!(r.get::<Option<String>>("missing").unwrap(), None);
        let row: Row = r.decode().unwrap();
        assert_eq!(row.len(), 4);
        assert_eq!(row.get::<String, _>("title"), "x");
        assert!(matches!(
            r.decode_row::<(i64,)>(),
            Err(Error::SchemaMismatch { .. })
        ));
        let parsed = r.parse().unwrap();
        assert_eq!(parsed.source_table().as_deref(), Some("app.todos"));
        assert_eq!(parsed.get::<String>("title").unwrap(), "x");
        assert_eq!(parsed.decode_row::<Row>().unwrap().len(), 4);
        let not_json = record("nope");
        assert!(not_json.get::<i64>("id").is_err());
        assert_eq!(not_json.source_table(), None);
        assert!(matches!(not_json.parse(), Err(Error::Protocol(_))));
    }

    struct Todo {
        title: String,
    }

    impl KalamRow for Todo {
        fn columns() -> &'static [crate::ColumnSpec] {
            const C: &[crate::ColumnSpec] = &[crate::ColumnSpec::named::<String>("title")];
            C
        }
        fn from_row(row: &RowRef<'_>) -> Result<Self> {
            Ok(Todo { title: row.get(0)? })
        }
    }

    crate::topic_payload! {
        enum Activity {
            "app.todos" => Todo(Todo),
            "app.notes" => Note(Row),
        }
    }

    #[test]
    fn topic_payload_enums_pick_the_variant_by_table() {
        let todo = record(r#"{"title":"x","_table":"app:todos"}"#);
        assert!(matches!(todo.decode::<Activity>(), Ok(Activity::Todo(t)) if t.title == "x"));
        let note = record(r#"{"body":"y","_table":"app:notes"}"#);
        assert!(matches!(note.decode::<Activity>(), Ok(Activity::Note(r)) if r.len() == 2));
        let other = record(r#"{"id":1,"_table":"app:users"}"#);
        let Err(Error::Decode {
            expected, found, ..
        }) = other.decode::<Activity>()
        else {
            panic!("expected a decode error");
        };
        assert_eq!(
            (expected.as_str(), found.as_str()),
            ("app.todos or app.notes", "app.users")
        );
        assert!(matches!(
            record("nope").decode::<Activity>(),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn offset_reset_round_trips() {
        for (reset, text) in [
            (AutoOffsetReset::Earliest, r#""Earliest""#),
            (AutoOffsetReset::Latest, r#""Latest""#),
            (AutoOffsetReset::Offset(3), r#"{"Offset":3}"#),
        ] {
            assert_eq!(serde_json::to_string(&reset).unwrap(), text);
            assert_eq!(
                serde_json::from_str::<AutoOffsetReset>(text).unwrap(),
                reset
            );
        }
        assert_eq!(
            serde_json::from_str::<AutoOffsetReset>(r#"{"offset":2}"#).unwrap(),
            AutoOffsetReset::Offset(2)
        );
        assert!(serde_json::from_str::<AutoOffsetReset>(r#""soon""#).is_err());
    }
}
