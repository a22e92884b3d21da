//! Live queries over the WebSocket (protocol section 3): raw subscription events
//! ([`KalamClient::live_events`](crate::KalamClient::live_events)) and materialized, typed
//! row sets ([`KalamClient::live`](crate::KalamClient::live)), plus the connection's state
//! ([`KalamClient::connection_events`](crate::KalamClient::connection_events)).

mod connection;
mod events;
mod filter;
mod protocol;
mod rows;
mod snapshot;
mod state;
mod store;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::decode::{Cell, FromCell};
use crate::error::Result;
use crate::wire::SchemaField;

pub(crate) use connection::DEFAULT_KEEPALIVE;
pub use events::LiveEvents;
pub use kalam_schema::filter::FilterMode;
pub use rows::{
    LiveChange, LiveRows, LiveRowsConfig, LiveRowsEvent, LiveRowsMaterializer, LoadState, OrderBy,
    RowOrder, Unordered,
};
pub use state::{ConnectionEvents, ConnectionState};
pub use store::RowKey;

/// Initial-data options of a subscription (protocol 3.4). `SubscriptionOptions::new()` asks
/// for the current rows with the server's defaults.
///
/// ```
/// use kalam_client::live::SubscriptionOptions;
/// let options = SubscriptionOptions::new().with_batch_size(100).with_from(42);
/// assert_eq!(options.batch_size(), Some(100));
/// assert_eq!(options.from(), Some(42));
/// assert!(SubscriptionOptions::without_initial_data().batch_size().is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct SubscriptionOptions {
    initial_data: bool,
    batch_size: Option<u32>,
    last_rows: Option<u32>,
    from: Option<i64>,
}

impl SubscriptionOptions {
    /// Initial data with the server's defaults (`"options":{}`).
    pub fn new() -> Self {
        SubscriptionOptions {
            initial_data: true,
            ..SubscriptionOptions::default()
        }
    }

    /// No initial rows: only changes from now on (`"options":null`).
    pub fn without_initial_data() -> Self {
        SubscriptionOptions::default()
    }

    /// Rows per initial batch (server default 1000). Paging can lose rows when key order and
    /// `_seq` order differ (protocol 3.6), so prefer a size that fits the whole snapshot.
    pub fn with_batch_size(mut self, n: u32) -> Self {
        self.initial_data = true;
        self.batch_size = Some(n);
        self
    }

    /// Initial data limited to the newest `n` rows (see protocol 3.6 for its quirks).
    pub fn with_last_rows(mut self, n: u32) -> Self {
        self.initial_data = true;
        self.last_rows = Some(n);
        self
    }

    /// Resume: only rows whose current version has `_seq > seq` (a [`Checkpoint`] value).
    pub fn with_from(mut self, seq: i64) -> Self {
        self.initial_data = true;
        self.from = Some(seq);
        self
    }

    /// The configured batch size.
    pub fn batch_size(&self) -> Option<u32> {
        self.batch_size
    }

    /// The configured resume point.
    pub fn from(&self) -> Option<i64> {
        self.from
    }

    /// The configured `last_rows`.
    pub fn last_rows(&self) -> Option<u32> {
        self.last_rows
    }

    /// Whether initial data is requested (false for
    /// [`SubscriptionOptions::without_initial_data`]).
    pub fn initial_data(&self) -> bool {
        self.initial_data
    }

    /// The `options` value of the `subscribe` message.
    pub(crate) fn to_wire(&self) -> Option<serde_json::Value> {
        if !self.initial_data {
            return None;
        }
        let mut map = serde_json::Map::new();
        if let Some(n) = self.batch_size {
            map.insert("batch_size".into(), n.into());
        }
        if let Some(n) = self.last_rows {
            map.insert("last_rows".into(), n.into());
        }
        if let Some(seq) = self.from {
            map.insert("from".into(), seq.into());
        }
        Some(serde_json::Value::Object(map))
    }
}

/// A position in a table's change history: the largest `_seq` applied. Serialize it, and
/// pass it back with [`SubscriptionOptions::with_from`] to resume.
///
/// ```
/// use kalam_client::live::{Checkpoint, SubscriptionOptions};
/// let cp = Checkpoint(384961454033178624);
/// let text = serde_json::to_string(&cp).unwrap();
/// let back: Checkpoint = serde_json::from_str(&text).unwrap();
/// let _options = SubscriptionOptions::new().with_from(back.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Checkpoint(pub i64);

/// Loading progress sent with `subscription_ack` and every `initial_data_batch`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct BatchControl {
    /// 0 for the ack and the first batch, then 1, 2, …
    #[serde(default)]
    pub batch_num: u32,
    /// More snapshot rows remain (the next batch is requested automatically).
    #[serde(default)]
    pub has_more: bool,
    /// `loading`, `loading_batch` or `ready`.
    #[serde(default)]
    pub status: String,
    /// `_seq` of the last row of the batch (not necessarily the largest, protocol 3.6).
    #[serde(default)]
    pub last_seq_id: Option<i64>,
}

/// One row of a live event: the server's JSON object, cells decoded on access.
///
/// Update rows are partial (protocol 3.7: NULL columns and `_deleted` are absent) and
/// `old_values` rows hold only the changed columns; a missing column reads as NULL.
#[derive(Debug, Clone)]
pub struct LiveRow {
    cells: Cells,
    schema: Arc<[SchemaField]>,
}

impl LiveRow {
    pub(crate) fn new(cells: Cells, schema: Arc<[SchemaField]>) -> Self {
        LiveRow { cells, schema }
    }

    pub(crate) fn cells(&self) -> &Cells {
        &self.cells
    }

    pub(crate) fn into_cells(self) -> Cells {
        self.cells
    }

    /// The raw JSON text of a column present in the row (exact name, then case-insensitive).
    pub fn raw_json(&self, column: &str) -> Option<&str> {
        lookup(&self.cells, column).map(|v| v.get())
    }

    /// Whether the row carries the column.
    pub fn contains(&self, column: &str) -> bool {
        lookup(&self.cells, column).is_some()
    }

    /// The column names present in the row (unordered).
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.cells.names()
    }

    /// Decodes a column; an absent column decodes as NULL.
    ///
    /// ```
    /// # use kalam_client::live::LiveRow;
    /// # fn f(row: &LiveRow) -> kalam_client::Result<()> {
    /// let title: Option<String> = row.try_get("title")?;
    /// # let _ = title; Ok(()) }
    /// ```
    pub fn try_get<T: FromCell>(&self, column: &str) -> Result<T> {
        let raw = self.raw_json(column).unwrap_or("null");
        let data_type = self
            .schema
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(column))
            .map(|f| f.data_type);
        T::from_cell(&Cell::new(raw, column, data_type))
    }

    /// The row's `_seq` (a decimal string on the wire).
    pub fn seq(&self) -> Option<i64> {
        seq_of(&self.cells)
    }
}

pub(crate) fn lookup<'a>(cells: &'a Cells, column: &str) -> Option<&'a RawValue> {
    cells.get(column)
}

/// `_seq` as a string (row data) or a number (lenient).
pub(crate) fn seq_of(cells: &Cells) -> Option<i64> {
    let raw = cells.get_exact("_seq")?.get().trim();
    raw.trim_matches('"').parse().ok()
}

/// The cells of one row object, in wire order. A row has a handful of columns, so a linear
/// scan beats hashing (and a `Vec` needs one allocation instead of a table's rehashes).
#[derive(Debug, Clone, Default)]
pub(crate) struct Cells(Vec<(Box<str>, Box<RawValue>)>);

impl Cells {
    /// The cell of `column`: exact name, then case-insensitive.
    pub(crate) fn get(&self, column: &str) -> Option<&RawValue> {
        self.get_exact(column).or_else(|| {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(column))
                .map(|(_, v)| &**v)
        })
    }

    fn get_exact(&self, column: &str) -> Option<&RawValue> {
        self.0
            .iter()
            .find(|(k, _)| &**k == column)
            .map(|(_, v)| &**v)
    }

    pub(crate) fn contains_key(&self, column: &str) -> bool {
        self.get_exact(column).is_some()
    }

    /// Sets a cell (replacing one of the same name).
    pub(crate) fn insert(&mut self, column: &str, value: Box<RawValue>) {
        match self.0.iter_mut().find(|(k, _)| &**k == column) {
            Some((_, v)) => *v = value,
            None => self.0.push((column.into(), value)),
        }
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| &**k)
    }

    /// The cells in wire order.
    #[cfg(feature = "consumer")]
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }
}

impl FromIterator<(String, Box<RawValue>)> for Cells {
    fn from_iter<I: IntoIterator<Item = (String, Box<RawValue>)>>(iter: I) -> Self {
        Cells(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl<'de> Deserialize<'de> for Cells {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Cells;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a row object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Cells, A::Error> {
                let mut cells = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some((Key(k), v)) = map.next_entry::<Key, Box<RawValue>>()? {
                    cells.push((k, v));
                }
                Ok(Cells(cells))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// A column name read straight into a `Box<str>` (no intermediate `String`).
struct Key(Box<str>);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a column name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Key, E> {
                Ok(Key(v.into()))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// One raw subscription event (a server frame for this subscription).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LiveEvent {
    /// `subscription_ack`: the result columns (`_seq` is added when the server leaves it out).
    Ack {
        /// Result columns.
        schema: Arc<[SchemaField]>,
        /// Loading progress.
        batch_control: BatchControl,
    },
    /// `initial_data_batch`: snapshot rows.
    InitialBatch {
        /// Rows of this batch.
        rows: Vec<LiveRow>,
        /// Loading progress; `status == "ready"` on the last batch.
        batch_control: BatchControl,
    },
    /// `change` / `insert`: new rows.
    Insert {
        /// The inserted rows.
        rows: Vec<LiveRow>,
    },
    /// `change` / `update`: new rows (non-null columns only) and old values (changed columns).
    Update {
        /// New row states.
        rows: Vec<LiveRow>,
        /// Previous values of the changed columns, plus the key and the old `_seq`.
        old_values: Vec<LiveRow>,
    },
    /// `change` / `delete`: the removed rows' last values.
    Delete {
        /// The tombstones.
        old_values: Vec<LiveRow>,
    },
    /// The socket was lost; the client reconnects with exponential backoff and jitter.
    Disconnected {
        /// What happened.
        reason: String,
    },
    /// A new socket is up and the subscription was sent again with `from` = the largest
    /// `_seq` delivered so far: a new [`LiveEvent::Ack`] and initial batch (rows changed
    /// meanwhile) follow. Rows at or below `from` are filtered out. Rows deleted while
    /// disconnected are not reported (protocol 3.9).
    Resumed {
        /// The resume point, when any row had been delivered.
        from: Option<i64>,
    },
    /// `error` for this subscription, or `CONNECTION_CLOSED` when the socket went away
    /// (the stream ends after it).
    Error {
        /// The server's code (`SUBSCRIPTION_FAILED`, `BATCH_FETCH_FAILED`, …).
        code: String,
        /// The server's message.
        message: String,
    },
}

impl LiveEvent {
    /// The largest `_seq` among the event's rows (update: new rows; delete: old values).
    pub fn max_seq(&self) -> Option<i64> {
        let rows = match self {
            LiveEvent::InitialBatch { rows, .. }
            | LiveEvent::Insert { rows }
            | LiveEvent::Update { rows, .. } => rows,
            LiveEvent::Delete { old_values } => old_values,
            LiveEvent::Ack { .. }
            | LiveEvent::Error { .. }
            | LiveEvent::Disconnected { .. }
            | LiveEvent::Resumed { .. } => return None,
        };
        rows.iter().filter_map(LiveRow::seq).max()
    }
}

/// A fresh subscription id: `<prefix>_<unix nanos>_<counter>`.
pub(crate) fn new_subscription_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = crate::transport::system_now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{nanos}_{n}")
}
