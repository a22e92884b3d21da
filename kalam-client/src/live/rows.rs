//! [`LiveRows`]: a subscription materialized into a keyed, ordered set of typed rows.
//!
//! Storage: rows live in a `BTreeMap` keyed by an insertion counter (which gives the
//! SDK's order: initial rows in arrival order, new rows appended, updated rows kept in
//! place) plus a `HashMap` from row key to that counter. Each change costs O(log n) and
//! copies nothing but the changed row; the current set is read through a borrowed view
//! ([`LiveRows::rows`]) between two polls, so no snapshot copy is made per event. Values are
//! kept as `Arc<T>` so that change events can hand them out without cloning `T`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use serde_json::value::RawValue;

use super::events::LiveEvents;
use super::{LiveEvent, LiveRow, SubscriptionOptions, lookup};
use crate::client::KalamClient;
use crate::error::{Error, ErrorCode, Result};
use crate::row::{KalamRow, RowRef, resolve_columns};
use crate::wire::SchemaField;

type RawCells = HashMap<String, Box<RawValue>>;

/// How [`KalamClient::live_with_config`] materializes rows.
///
/// ```
/// use kalam_client::live::LiveRowsConfig;
/// let config = LiveRowsConfig::new().with_limit(100).with_key_columns(["Tenant", " id", "id"]);
/// assert_eq!(config.key_columns(), Some(&["tenant".to_owned(), "id".to_owned()][..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct LiveRowsConfig {
    limit: Option<usize>,
    key_columns: Option<Vec<String>>,
}

impl LiveRowsConfig {
    /// No limit; rows keyed by the table's primary key (from the ack schema), else `id`.
    pub fn new() -> Self {
        LiveRowsConfig::default()
    }

    /// Keep at most `n` rows, dropping the oldest positions first.
    pub fn with_limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Columns that identify a row (trimmed, lower-cased, de-duplicated; empty means default).
    pub fn with_key_columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut keys: Vec<String> = Vec::new();
        for c in columns {
            let c = c.as_ref().trim().to_ascii_lowercase();
            if !c.is_empty() && !keys.contains(&c) {
                keys.push(c);
            }
        }
        self.key_columns = (!keys.is_empty()).then_some(keys);
        self
    }

    /// The configured key columns, if any.
    pub fn key_columns(&self) -> Option<&[String]> {
        self.key_columns.as_deref()
    }

    /// The configured limit.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }
}

/// Identity of a row: the raw JSON of its key cells, in key-column order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RowKey(Box<[Box<str>]>);

impl RowKey {
    /// The key cells as raw JSON text (a BIGINT key reads `"1"`, with the quotes).
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|p| &**p)
    }
}

impl fmt::Display for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(part)?;
        }
        Ok(())
    }
}

/// Whether the initial snapshot is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadState {
    /// Initial batches are still arriving.
    Loading,
    /// The snapshot is complete; changes are live.
    Ready,
}

/// What changed in the set.
#[derive(Debug)]
#[non_exhaustive]
pub enum LiveChange<T> {
    /// The ack (`rows == 0`) or an initial batch was applied.
    Snapshot {
        /// Batch number (0 for the ack and the first batch).
        batch_num: u32,
        /// Rows in the batch.
        rows: usize,
    },
    /// A new row was added at the end.
    Inserted(Arc<T>),
    /// A row changed (in place); `before` is `None` when the row was not in the set (for
    /// example it moved into the filter) and it was appended.
    Updated {
        /// The previous value.
        before: Option<Arc<T>>,
        /// The new value.
        after: Arc<T>,
    },
    /// The socket was lost; the set is kept and the client reconnects.
    Disconnected {
        /// What happened.
        reason: String,
    },
    /// Resubscribed after a reconnect; rows changed meanwhile follow as a snapshot batch
    /// (upserted by key). Rows deleted meanwhile are not reported (protocol 3.9).
    Resumed {
        /// The resume point.
        from: Option<i64>,
    },
    /// A row was removed.
    Deleted {
        /// Its key.
        key: RowKey,
        /// Its last value, when it was in the set.
        before: Option<Arc<T>>,
    },
}

/// One step of a [`LiveRows`] stream. Read the resulting set with [`LiveRows::rows`].
#[derive(Debug)]
#[non_exhaustive]
pub struct LiveRowsEvent<T> {
    /// The typed change.
    pub change: LiveChange<T>,
    /// The largest `_seq` among the rows of the server event (ack: `batch_control.last_seq_id`).
    pub last_seq_id: Option<i64>,
    /// Loading state after this event.
    pub state: LoadState,
}

struct Entry<T> {
    key: Option<RowKey>,
    raw: RawCells,
    value: Arc<T>,
}

/// A live, materialized row set of `T`: a [`Stream`] of [`LiveRowsEvent`] plus a borrowed
/// view of the current rows.
#[must_use = "a subscription does nothing unless its stream is polled"]
pub struct LiveRows<T> {
    events: LiveEvents,
    schema: Arc<[SchemaField]>,
    positions: Vec<usize>,
    key_columns: Vec<String>,
    limit: Option<usize>,
    entries: BTreeMap<u64, Entry<T>>,
    index: HashMap<RowKey, u64>,
    next_pos: u64,
    queue: VecDeque<Result<LiveRowsEvent<T>>>,
    state: LoadState,
    initial_data: bool,
    last_seq: Option<i64>,
}

impl<T> fmt::Debug for LiveRows<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveRows")
            .field("subscription_id", &self.events.subscription_id())
            .field("rows", &self.entries.len())
            .field("key_columns", &self.key_columns)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<T: KalamRow> LiveRows<T> {
    fn new(events: LiveEvents, config: LiveRowsConfig, initial_data: bool) -> Result<Self> {
        let schema = Arc::clone(events.schema());
        let positions = resolve_columns(T::columns(), &schema)?;
        let key_columns = config.key_columns.unwrap_or_else(|| {
            let pk: Vec<String> = schema
                .iter()
                .filter(|f| f.is_primary_key())
                .map(|f| f.name.to_ascii_lowercase())
                .collect();
            if pk.is_empty() {
                vec!["id".to_owned()]
            } else {
                pk
            }
        });
        Ok(LiveRows {
            events,
            schema,
            positions,
            key_columns,
            limit: config.limit,
            entries: BTreeMap::new(),
            index: HashMap::new(),
            next_pos: 0,
            queue: VecDeque::new(),
            state: LoadState::Loading,
            initial_data,
            last_seq: None,
        })
    }

    /// The current rows, in the set's order (snapshot order, then arrival order).
    pub fn rows(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.entries.values().map(|e| &*e.value)
    }

    /// The current rows as shared values (cheap to keep beyond the next poll).
    pub fn shared_rows(&self) -> impl DoubleEndedIterator<Item = &Arc<T>> + ExactSizeIterator {
        self.entries.values().map(|e| &e.value)
    }

    /// The row with this key.
    pub fn get(&self, key: &RowKey) -> Option<&T> {
        let pos = self.index.get(key)?;
        self.entries.get(pos).map(|e| &*e.value)
    }

    /// Number of rows in the set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Loading state.
    pub fn state(&self) -> LoadState {
        self.state
    }

    /// The columns that identify rows.
    pub fn key_columns(&self) -> &[String] {
        &self.key_columns
    }

    /// The largest `_seq` applied so far: resume from it with
    /// [`SubscriptionOptions::with_from`].
    pub fn checkpoint(&self) -> Option<super::Checkpoint> {
        self.last_seq.map(super::Checkpoint)
    }

    /// The key of a raw row; `None` when a key column is missing (such a row never matches).
    fn key_of(&self, cells: &RawCells) -> Option<RowKey> {
        self.key_columns
            .iter()
            .map(|c| lookup(cells, c).map(|v| Box::from(v.get().trim())))
            .collect::<Option<Vec<Box<str>>>>()
            .map(|parts| RowKey(parts.into()))
    }

    fn decode(&self, cells: &RawCells) -> Result<T> {
        let row: Vec<&RawValue> = self
            .schema
            .iter()
            .map(|f| lookup(cells, &f.name).unwrap_or(RawValue::NULL))
            .collect();
        T::from_row(&RowRef {
            cells: &row,
            positions: &self.positions,
            schema: &self.schema,
        })
    }

    fn remove(&mut self, key: &RowKey) -> Option<Entry<T>> {
        let pos = self.index.remove(key)?;
        self.entries.remove(&pos)
    }

    /// Inserts or replaces (in place); returns the previous value.
    fn upsert(&mut self, key: Option<RowKey>, raw: RawCells, value: Arc<T>) -> Option<Arc<T>> {
        if let Some(pos) = key.as_ref().and_then(|k| self.index.get(k)).copied()
            && let Some(entry) = self.entries.get_mut(&pos)
        {
            entry.raw = raw;
            return Some(std::mem::replace(&mut entry.value, value));
        }
        let pos = self.next_pos;
        self.next_pos += 1;
        if let Some(k) = &key {
            self.index.insert(k.clone(), pos);
        }
        self.entries.insert(pos, Entry { key, raw, value });
        None
    }

    fn apply_limit(&mut self) {
        let Some(limit) = self.limit else { return };
        while self.entries.len() > limit {
            if let Some((_, entry)) = self.entries.pop_first()
                && let Some(k) = entry.key
            {
                self.index.remove(&k);
            }
        }
    }

    fn push(&mut self, change: LiveChange<T>, last_seq_id: Option<i64>) {
        self.queue.push_back(Ok(LiveRowsEvent {
            change,
            last_seq_id,
            state: self.state,
        }));
    }

    fn take_row(row: LiveRow) -> RawCells {
        let LiveRow { cells, .. } = row;
        cells
    }

    /// Applies one raw event, queueing the typed events it produces.
    fn apply(&mut self, event: LiveEvent) -> Result<()> {
        let seq = event.max_seq();
        if let Some(s) = seq {
            self.last_seq = Some(self.last_seq.map_or(s, |l| l.max(s)));
        }
        match event {
            LiveEvent::Ack { batch_control, .. } => {
                self.state = if self.initial_data {
                    LoadState::Loading
                } else {
                    LoadState::Ready
                };
                self.push(
                    LiveChange::Snapshot {
                        batch_num: batch_control.batch_num,
                        rows: 0,
                    },
                    batch_control.last_seq_id,
                );
            }
            LiveEvent::InitialBatch {
                rows,
                batch_control,
            } => {
                let n = rows.len();
                for row in rows {
                    let raw = Self::take_row(row);
                    let value = Arc::new(self.decode(&raw)?);
                    let key = self.key_of(&raw);
                    self.upsert(key, raw, value);
                }
                self.apply_limit();
                if !batch_control.has_more {
                    self.state = LoadState::Ready;
                }
                self.push(
                    LiveChange::Snapshot {
                        batch_num: batch_control.batch_num,
                        rows: n,
                    },
                    seq.or(batch_control.last_seq_id),
                );
            }
            LiveEvent::Insert { rows } => {
                for row in rows {
                    let raw = Self::take_row(row);
                    let value = Arc::new(self.decode(&raw)?);
                    let key = self.key_of(&raw);
                    let change = match self.upsert(key, raw, Arc::clone(&value)) {
                        Some(before) => LiveChange::Updated {
                            before: Some(before),
                            after: value,
                        },
                        None => LiveChange::Inserted(value),
                    };
                    self.push(change, seq);
                }
                self.apply_limit();
            }
            LiveEvent::Update { rows, old_values } => {
                let mut old_values = old_values.into_iter();
                for row in rows {
                    let mut raw = Self::take_row(row);
                    let key = self.key_of(&raw);
                    // A key change: the old row (by its old key) goes away.
                    let old_key = old_values.next().and_then(|old| self.key_of(old.cells()));
                    let moved = match (&old_key, &key) {
                        (Some(old), new) if new.as_ref() != Some(old) => self.remove(old),
                        _ => None,
                    };
                    let previous = moved.as_ref().map(|e| &e.raw).or_else(|| {
                        key.as_ref()
                            .and_then(|k| self.index.get(k))
                            .and_then(|pos| self.entries.get(pos))
                            .map(|e| &e.raw)
                    });
                    // Update rows omit NULL columns (absent = NULL, which decoding already
                    // gives) and `_deleted`, which keeps its previous value.
                    if !raw.contains_key("_deleted")
                        && let Some(deleted) = previous.and_then(|p| p.get("_deleted"))
                    {
                        raw.insert("_deleted".to_owned(), deleted.clone());
                    }
                    let after = Arc::new(self.decode(&raw)?);
                    let replaced = self.upsert(key, raw, Arc::clone(&after));
                    let before = replaced.or(moved.map(|e| e.value));
                    self.push(LiveChange::Updated { before, after }, seq);
                }
                self.apply_limit();
            }
            LiveEvent::Delete { old_values } => {
                for old in old_values {
                    if let Some(key) = self.key_of(old.cells()) {
                        let before = self.remove(&key).map(|e| e.value);
                        self.push(LiveChange::Deleted { key, before }, seq);
                    }
                }
            }
            LiveEvent::Disconnected { reason } => {
                self.push(LiveChange::Disconnected { reason }, None);
            }
            LiveEvent::Resumed { from } => {
                self.initial_data |= from.is_some();
                self.push(LiveChange::Resumed { from }, from);
            }
            LiveEvent::Error { code, message } => {
                let error = if code == "CONNECTION_CLOSED" {
                    Error::Protocol(format!("the live connection closed: {message}"))
                } else {
                    Error::Sql {
                        code: ErrorCode::parse(&code),
                        message,
                        details: None,
                    }
                };
                self.queue.push_back(Err(error));
            }
        }
        Ok(())
    }
}

impl<T: KalamRow> Stream for LiveRows<T> {
    type Item = Result<LiveRowsEvent<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(event) = this.queue.pop_front() {
                return Poll::Ready(Some(event));
            }
            match Pin::new(&mut this.events).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(event)) => {
                    if let Err(e) = this.apply(event) {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
    }
}

impl KalamClient {
    /// Subscribes with initial data and materializes the rows as `T`, keyed by the table's
    /// primary key (else `id`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use futures_util::StreamExt;
    /// use kalam_client::{AuthProvider, KalamClient, Row};
    /// let client = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin".into(), "AdminPass123!".into()))
    ///     .build()?;
    /// client.query::<()>("CREATE NAMESPACE IF NOT EXISTS doc").execute().await?;
    /// client.query::<()>("CREATE SHARED TABLE doc.items (id BIGINT PRIMARY KEY, name TEXT)").execute().await?;
    /// client.query::<()>("INSERT INTO doc.items (id, name) VALUES (1, 'a')").execute().await?;
    /// let mut live = client.live::<Row>("SELECT * FROM doc.items").await?;
    /// live.next().await.transpose()?; // ack
    /// live.next().await.transpose()?; // initial batch
    /// assert_eq!(live.rows().map(|r| r.get::<String, _>("name")).collect::<Vec<_>>(), ["a"]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn live<T: KalamRow>(&self, sql: &str) -> Result<LiveRows<T>> {
        self.live_with_config(sql, LiveRowsConfig::new(), SubscriptionOptions::new())
            .await
    }

    /// [`KalamClient::live`] with a [`LiveRowsConfig`] and [`SubscriptionOptions`].
    pub async fn live_with_config<T: KalamRow>(
        &self,
        sql: &str,
        config: LiveRowsConfig,
        options: SubscriptionOptions,
    ) -> Result<LiveRows<T>> {
        let initial_data = options.to_wire().is_some();
        let events = LiveEvents::subscribe(self, "live_rows", sql, &options).await?;
        LiveRows::new(events, config, initial_data)
    }
}
