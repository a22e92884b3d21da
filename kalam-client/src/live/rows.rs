//! [`LiveRows`]: a subscription materialized into a keyed, ordered set of typed rows, and the
//! [`LiveRowsMaterializer`] that does the bookkeeping (usable on its own with frames from
//! anywhere).
//!
//! Cost per change: evaluating the subscription's WHERE on the row (exact mode; a row it
//! rejects stops here, or is removed if it was in the set), decoding the changed row into `T`,
//! one `HashMap` lookup by row key (O(1) expected) and, when the row is inserted, deleted or
//! its sort key changes, one `BTreeMap` insert/remove in the ordered index (O(log n)). Rows are `Arc<T>`; no copy of
//! the set is made per event. The set is read through borrowed views ([`LiveRows::rows`])
//! between two polls.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use kalam_schema::filter::{Filter, FilterMode, WhereClause};
use serde_json::value::RawValue;

use super::events::{LiveEvents, frame_event, result_schema};
use super::filter::{accepts, filter_columns, filter_error};
use super::protocol::ServerFrame;
use super::snapshot::{MAX_PAGE, Snapshot, SnapshotPlan, split_live_sql};
use super::store::{KeyPart, OrderFn, RowKey, RowSet, SortKey};
use super::{Checkpoint, LiveEvent, SubscriptionOptions, lookup, seq_of};
use crate::client::KalamClient;
use crate::error::{Error, ErrorCode, Result};
use crate::row::{KalamRow, RowRef, resolve_columns};
use crate::wire::SchemaField;

type RawCells = super::Cells;

/// A stored row version: the previous value (if any) and the new one.
type Replaced<T> = (Option<Arc<T>>, Arc<T>);

/// The default row order of a [`LiveRowsConfig`]: by primary key, ascending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unordered;

/// A typed client-side row order, made by [`LiveRowsConfig::order_by`].
pub struct OrderBy<T>(OrderFn<T>);

impl<T> Clone for OrderBy<T> {
    fn clone(&self) -> Self {
        OrderBy(Arc::clone(&self.0))
    }
}

impl<T> fmt::Debug for OrderBy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OrderBy(..)")
    }
}

/// A row order usable for rows of `T`: [`Unordered`] (primary key) or [`OrderBy<T>`].
pub trait RowOrder<T> {
    #[doc(hidden)]
    fn into_order(self) -> Option<OrderFn<T>>;
}

impl<T> RowOrder<T> for Unordered {
    fn into_order(self) -> Option<OrderFn<T>> {
        None
    }
}

impl<T> RowOrder<T> for OrderBy<T> {
    fn into_order(self) -> Option<OrderFn<T>> {
        Some(self.0)
    }
}

/// How [`KalamClient::live_with_config`] materializes rows: key columns, a client-side
/// order (the server allows no ORDER BY in live SQL), a limit applied after ordering, and
/// where the WHERE is evaluated ([`FilterMode`]).
///
/// The whole matching set is always kept; `limit` only bounds the window that
/// [`LiveRows::rows`] shows, so a row that leaves the top N and later climbs back is still
/// correct.
///
/// ```
/// use kalam_client::live::LiveRowsConfig;
/// struct Message { id: i64, created_at: i64 }
/// let newest_20 = LiveRowsConfig::new()
///     .order_by_desc(|m: &Message| m.created_at)
///     .with_limit(20);
/// assert_eq!(newest_20.limit(), Some(20));
/// let config = LiveRowsConfig::new().with_key_columns(["Tenant", " id", "id"]);
/// assert_eq!(config.key_columns(), Some(&["tenant".to_owned(), "id".to_owned()][..]));
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct LiveRowsConfig<O = Unordered> {
    limit: Option<usize>,
    key_columns: Option<Vec<String>>,
    filter_mode: FilterMode,
    stable_columns: Vec<String>,
    order: O,
}

impl LiveRowsConfig {
    /// No limit; rows keyed and ordered by the table's primary key (from the ack schema,
    /// else `id`).
    pub fn new() -> Self {
        LiveRowsConfig::default()
    }
}

impl<O> LiveRowsConfig<O> {
    /// Show at most `n` rows: the first `n` in the set's order (top-N).
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

    /// Where the WHERE is evaluated. [`FilterMode::Exact`] (the default): on the client,
    /// on every change, with SQL's semantics, so the set always equals a fresh SELECT with
    /// the same WHERE; the server sends every change of the table (of the user's partition,
    /// for USER tables) except what [`LiveRowsConfig::with_stable_columns`] lets it filter.
    /// [`FilterMode::Server`]: the server's live filter evaluates it, for less traffic; only
    /// filters the server delivers are accepted ([`Error::LiveFilter`] otherwise, before
    /// subscribing), and a row that an UPDATE moves out of the filter stays in the set (the
    /// server never sends that UPDATE) until the next reload.
    ///
    /// ```
    /// use kalam_client::live::{FilterMode, LiveRowsConfig};
    /// let config = LiveRowsConfig::new().with_filter_mode(FilterMode::Server);
    /// assert_eq!(config.filter_mode(), FilterMode::Server);
    /// ```
    pub fn with_filter_mode(mut self, mode: FilterMode) -> Self {
        self.filter_mode = mode;
        self
    }

    /// Columns no UPDATE of the table changes (say, a room or a tenant). In exact mode the
    /// WHERE's top-level `AND` terms that read only these columns, and that the server
    /// delivers faithfully, are also sent to the server, which then sends only the changes
    /// of matching rows; the client still evaluates the whole WHERE. Declaring a column
    /// stable that an UPDATE does change makes rows that leave through it stay in the set.
    ///
    /// ```
    /// use kalam_client::live::LiveRowsConfig;
    /// let config = LiveRowsConfig::new().with_stable_columns(["room"]);
    /// assert_eq!(config.stable_columns(), ["room"]);
    /// ```
    pub fn with_stable_columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.stable_columns = columns
            .into_iter()
            .map(|c| c.as_ref().trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .collect();
        self
    }

    /// The filter mode.
    pub fn filter_mode(&self) -> FilterMode {
        self.filter_mode
    }

    /// The columns declared stable.
    pub fn stable_columns(&self) -> &[String] {
        &self.stable_columns
    }

    /// Orders rows by a key taken from each row, ascending; ties by primary key.
    pub fn order_by<T, K, F>(self, key: F) -> LiveRowsConfig<OrderBy<T>>
    where
        K: Ord + Send + Sync + 'static,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        let order: OrderFn<T> = Arc::new(move |row: &T| Box::new(key(row)) as Box<dyn SortKey>);
        LiveRowsConfig {
            limit: self.limit,
            key_columns: self.key_columns,
            filter_mode: self.filter_mode,
            stable_columns: self.stable_columns,
            order: OrderBy(order),
        }
    }

    /// Orders rows by a key taken from each row, descending; ties by primary key.
    pub fn order_by_desc<T, K, F>(self, key: F) -> LiveRowsConfig<OrderBy<T>>
    where
        K: Ord + Send + Sync + 'static,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        self.order_by(move |row: &T| std::cmp::Reverse(key(row)))
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

/// Whether the set is complete.
///
/// In [`FilterMode::Server`] one server limit applies while `Ready` (protocol 3.7): an UPDATE
/// that moves a row out of the subscription's WHERE is not delivered, so such a row stays
/// until the next reload (a reconnect, or a new subscription). Exact mode (the default) has
/// no such limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadState {
    /// The initial rows (or, after a reconnect, the reloaded rows) are still being read.
    Loading,
    /// The set is complete; changes are live.
    Ready,
}

/// What changed in the set (the whole set: a row outside the `limit` window changes too).
#[derive(Debug)]
#[non_exhaustive]
pub enum LiveChange<T> {
    /// Rows were loaded: the initial set, or the set reloaded after a reconnect.
    Snapshot {
        /// Pages (HTTP) or batch number (WebSocket initial data); 0 for an ack.
        batch_num: u32,
        /// Rows loaded.
        rows: usize,
    },
    /// A new row, or a row an UPDATE moved into the subscription's WHERE.
    Inserted(Arc<T>),
    /// A row changed; `before` is `None` when the row was not in the set.
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
    /// Resubscribed after a reconnect. The set is then reloaded and compared with what was
    /// there: the differences arrive as `Inserted`/`Updated`/`Deleted`, then a `Snapshot`.
    Resumed {
        /// The resume point.
        from: Option<i64>,
    },
    /// A row was removed: deleted, or moved out of the subscription's WHERE by an UPDATE.
    Deleted {
        /// Its key.
        key: RowKey,
        /// Its last value.
        before: Option<Arc<T>>,
    },
}

/// One step of a [`LiveRows`] stream. Read the resulting set with [`LiveRows::rows`].
#[derive(Debug)]
#[non_exhaustive]
pub struct LiveRowsEvent<T> {
    /// The typed change.
    pub change: LiveChange<T>,
    /// The largest `_seq` among the rows of the server event (a snapshot: the checkpoint).
    pub last_seq_id: Option<i64>,
    /// Loading state after this event.
    pub state: LoadState,
}

/// The bookkeeping of [`LiveRows`] without a socket: feed it server frames (JSON text) and
/// read the materialized set. Useful with a custom transport and for benchmarks.
///
/// Changes are applied only when their `_seq` is newer than the stored row's, so replayed
/// frames are ignored.
///
/// ```
/// use kalam_client::Row;
/// use kalam_client::live::{LiveChange, LiveRowsConfig, LiveRowsMaterializer};
/// let mut m = LiveRowsMaterializer::<Row>::new(LiveRowsConfig::new());
/// m.apply_frame(r#"{"type":"subscription_ack","subscription_id":"s","total_rows":0,
///     "batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},
///     "schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},
///               {"name":"body","data_type":"Text","index":1}]}"#)?.for_each(drop);
/// let events: Vec<_> = m
///     .apply_frame(r#"{"type":"change","subscription_id":"s","change_type":"insert",
///         "rows":[{"id":"1","body":"hi","_seq":"10"}]}"#)?
///     .collect();
/// assert!(matches!(&events[0].change, LiveChange::Inserted(row) if row.get::<String, _>("body") == "hi"));
/// // A replay of the same version changes nothing.
/// let replay = m.apply_frame(r#"{"type":"change","subscription_id":"s","change_type":"insert",
///     "rows":[{"id":"1","body":"hi","_seq":"10"}]}"#)?;
/// assert_eq!(replay.count(), 0);
/// assert_eq!(m.len(), 1);
/// assert_eq!(m.checkpoint().map(|c| c.0), Some(10));
/// # Ok::<(), kalam_client::Error>(())
/// ```
pub struct LiveRowsMaterializer<T> {
    schema: Arc<[SchemaField]>,
    /// The WHERE, evaluated on every row of every change (exact mode).
    filter: Option<Arc<Filter>>,
    /// A WHERE given with [`LiveRowsMaterializer::with_filter`], compiled at the ack.
    pending_filter: Option<WhereClause>,
    /// Columns the subscription adds to the projection for the filter; not part of the rows.
    hidden: Vec<String>,
    positions: Vec<usize>,
    configured_keys: Option<Vec<String>>,
    key_columns: Vec<String>,
    key_integral: Vec<bool>,
    has_deleted: bool,
    set: RowSet<T>,
    anonymous: u64,
    last_seq: Option<i64>,
    state: LoadState,
    initial_data: bool,
    queue: VecDeque<LiveRowsEvent<T>>,
}

impl<T> fmt::Debug for LiveRowsMaterializer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveRowsMaterializer")
            .field("rows", &self.set.total())
            .field("key_columns", &self.key_columns)
            .field("state", &self.state)
            .field("last_seq", &self.last_seq)
            .finish_non_exhaustive()
    }
}

impl<T: KalamRow> LiveRowsMaterializer<T> {
    /// An empty set; the result columns come with the first `subscription_ack` frame.
    pub fn new<O: RowOrder<T>>(config: LiveRowsConfig<O>) -> Self {
        LiveRowsMaterializer {
            schema: Arc::from(Vec::new()),
            filter: None,
            pending_filter: None,
            hidden: Vec::new(),
            positions: Vec::new(),
            configured_keys: config.key_columns,
            key_columns: Vec::new(),
            key_integral: Vec::new(),
            has_deleted: false,
            set: RowSet::new(config.order.into_order(), config.limit),
            anonymous: 0,
            last_seq: None,
            state: LoadState::Ready,
            initial_data: true,
            queue: VecDeque::new(),
        }
    }

    /// Evaluates `condition` (a WHERE without the `WHERE`) on every row of every change with
    /// SQL's semantics: a row an UPDATE moves out of it is removed ([`LiveChange::Deleted`]),
    /// one an UPDATE moves into it is added ([`LiveChange::Inserted`]), other rows are never
    /// stored. The frames must carry the columns it reads; it is compiled against the
    /// `subscription_ack`'s schema.
    ///
    /// ```
    /// use kalam_client::Row;
    /// use kalam_client::live::{LiveChange, LiveRowsConfig, LiveRowsMaterializer};
    /// let mut m = LiveRowsMaterializer::<Row>::new(LiveRowsConfig::new()).with_filter("done = false")?;
    /// m.apply_frame(r#"{"type":"subscription_ack","subscription_id":"s","total_rows":0,
    ///     "batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},
    ///     "schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},
    ///               {"name":"done","data_type":"Boolean","index":1,"flags":["nn"]}]}"#)?.for_each(drop);
    /// let change = |kind: &str, done: bool, seq: u32| format!(
    ///     r#"{{"type":"change","subscription_id":"s","change_type":"{kind}","rows":[{{"id":"1","done":{done},"_seq":"{seq}"}}]}}"#);
    /// let first: Vec<_> = m.apply_frame(&change("insert", false, 1))?.collect();
    /// assert!(matches!(first[0].change, LiveChange::Inserted(_)));
    /// // Marked done: the row leaves the open set.
    /// let done: Vec<_> = m.apply_frame(&change("update", true, 2))?.collect();
    /// assert!(matches!(done[0].change, LiveChange::Deleted { .. }));
    /// assert!(m.is_empty());
    /// # Ok::<(), kalam_client::Error>(())
    /// ```
    pub fn with_filter(mut self, condition: &str) -> Result<Self> {
        let clause =
            WhereClause::parse(condition).map_err(|e| filter_error(FilterMode::Exact, &e))?;
        self.pending_filter = Some(clause);
        Ok(self)
    }

    /// Sets the result columns (what a `subscription_ack` does).
    fn set_schema(&mut self, schema: Arc<[SchemaField]>) -> Result<()> {
        if let Some(clause) = &self.pending_filter {
            let filter = clause
                .compile(&filter_columns(&schema), FilterMode::Exact)
                .map_err(|e| filter_error(FilterMode::Exact, &e))?;
            self.filter = Some(Arc::new(filter));
        }
        let schema: Arc<[SchemaField]> = if self.hidden.is_empty() {
            schema
        } else {
            schema
                .iter()
                .filter(|f| !self.hidden.iter().any(|h| h.eq_ignore_ascii_case(&f.name)))
                .cloned()
                .collect()
        };
        self.positions = resolve_columns(T::columns(), &schema)?;
        self.key_columns = self.configured_keys.clone().unwrap_or_else(|| {
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
        self.key_integral = self
            .key_columns
            .iter()
            .map(|k| {
                schema
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(k))
                    .is_some_and(|f| f.data_type.is_integer())
            })
            .collect();
        self.has_deleted = schema.iter().any(|f| f.name == "_deleted");
        self.schema = schema;
        Ok(())
    }

    /// Applies one server frame (JSON text of `subscription_ack`, `initial_data_batch`,
    /// `change` or `error`) and returns the typed events it produced.
    pub fn apply_frame(
        &mut self,
        frame: &str,
    ) -> Result<std::collections::vec_deque::Drain<'_, LiveRowsEvent<T>>> {
        let frame: ServerFrame = serde_json::from_str(frame)
            .map_err(|e| Error::Protocol(format!("malformed live frame: {e}")))?;
        if frame.kind == "subscription_ack" {
            self.set_schema(result_schema(frame.schema.clone().unwrap_or_default()))?;
        }
        let schema = Arc::clone(&self.schema);
        if let Some(event) = frame_event(frame, &schema) {
            self.apply_event(event, true)?;
        }
        Ok(self.queue.drain(..))
    }

    /// The rows in the window, in order.
    pub fn rows(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.set.window().map(|v| &**v)
    }

    /// Rows in the window.
    pub fn len(&self) -> usize {
        self.set.visible()
    }

    /// True when the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest `_seq` applied.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.last_seq.map(Checkpoint)
    }

    fn bump(&mut self, seq: Option<i64>) {
        if let Some(s) = seq {
            self.last_seq = Some(self.last_seq.map_or(s, |l| l.max(s)));
        }
    }

    /// The key of a raw row; a row missing a key column gets a unique anonymous key.
    fn key_of(&mut self, cells: &RawCells) -> RowKey {
        self.lookup_key(cells).unwrap_or_else(|| {
            self.anonymous += 1;
            RowKey(Box::new([KeyPart::Anonymous(self.anonymous)]))
        })
    }

    fn lookup_key(&self, cells: &RawCells) -> Option<RowKey> {
        self.key_columns
            .iter()
            .zip(&self.key_integral)
            .map(|(c, integral)| lookup(cells, c).map(|v| RowKey::part(v.get(), *integral)))
            .collect::<Option<Vec<KeyPart>>>()
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

    fn push(&mut self, emit: bool, change: LiveChange<T>, last_seq_id: Option<i64>) {
        if emit {
            self.queue.push_back(LiveRowsEvent {
                change,
                last_seq_id,
                state: self.state,
            });
        }
    }

    /// Stores a row version unless the stored one is as new (then `None`).
    fn store(&mut self, key: RowKey, cells: &RawCells) -> Result<Option<Replaced<T>>> {
        let seq = seq_of(cells);
        if let (Some(stored), Some(seq)) = (self.set.get(&key), seq)
            && stored.seq.is_some_and(|s| s >= seq)
        {
            return Ok(None);
        }
        let value = Arc::new(self.decode(cells)?);
        let before = self.set.upsert(key, Arc::clone(&value), seq);
        Ok(Some((before, value)))
    }

    /// Whether the subscription's WHERE accepts a raw row.
    fn accepts(&self, cells: &RawCells) -> Result<bool> {
        accepts(self.filter.as_deref(), cells)
    }

    /// Removes the stored row of `key` unless it is newer than `seq` (a row that left the
    /// filter, or was deleted).
    fn leave(&mut self, key: &RowKey, seq: Option<i64>, emit: bool, event_seq: Option<i64>) {
        let newer = match (self.set.get(key), seq) {
            (Some(stored), Some(seq)) => stored.seq.is_none_or(|s| s < seq),
            (stored, _) => stored.is_some(),
        };
        if newer && let Some(stored) = self.set.remove(key) {
            let change = LiveChange::Deleted {
                key: key.clone(),
                before: Some(stored.value),
            };
            self.push(emit, change, event_seq);
        }
    }

    /// Applies one raw event; `emit` queues the typed events it produces.
    fn apply_event(&mut self, event: LiveEvent, emit: bool) -> Result<()> {
        let seq = event.max_seq();
        self.bump(seq);
        match event {
            LiveEvent::Ack { batch_control, .. } => {
                self.state = if self.initial_data {
                    LoadState::Loading
                } else {
                    LoadState::Ready
                };
                let change = LiveChange::Snapshot {
                    batch_num: batch_control.batch_num,
                    rows: 0,
                };
                self.push(emit, change, batch_control.last_seq_id);
            }
            LiveEvent::InitialBatch {
                rows,
                batch_control,
            } => {
                let n = rows.len();
                for row in rows {
                    let cells = row.into_cells();
                    if !self.accepts(&cells)? {
                        if let Some(key) = self.lookup_key(&cells) {
                            self.leave(&key, seq_of(&cells), false, None);
                        }
                        continue;
                    }
                    let key = self.key_of(&cells);
                    self.store(key, &cells)?;
                }
                if !batch_control.has_more {
                    self.state = LoadState::Ready;
                }
                let change = LiveChange::Snapshot {
                    batch_num: batch_control.batch_num,
                    rows: n,
                };
                self.push(emit, change, seq.or(batch_control.last_seq_id));
            }
            LiveEvent::Insert { rows } => {
                for row in rows {
                    let cells = row.into_cells();
                    if !self.accepts(&cells)? {
                        if let Some(key) = self.lookup_key(&cells) {
                            self.leave(&key, seq_of(&cells), emit, seq);
                        }
                        continue;
                    }
                    let key = self.key_of(&cells);
                    let change = match self.store(key, &cells)? {
                        None => continue,
                        Some((Some(before), after)) => LiveChange::Updated {
                            before: Some(before),
                            after,
                        },
                        Some((None, after)) => LiveChange::Inserted(after),
                    };
                    self.push(emit, change, seq);
                }
            }
            LiveEvent::Update { rows, old_values } => {
                let mut old_values = old_values.into_iter();
                for row in rows {
                    let mut cells = row.into_cells();
                    // Update rows omit NULL columns (absent decodes as NULL) and `_deleted`
                    // (a live row is not deleted).
                    if self.has_deleted && !cells.contains_key("_deleted") {
                        cells.insert("_deleted", RawValue::FALSE.to_owned());
                    }
                    let old_key = old_values.next().and_then(|o| self.lookup_key(o.cells()));
                    if !self.accepts(&cells)? {
                        // Moved out of the filter (or never in it): the stored row goes away.
                        let row_seq = seq_of(&cells);
                        for key in self.lookup_key(&cells).into_iter().chain(old_key) {
                            self.leave(&key, row_seq, emit, seq);
                        }
                        continue;
                    }
                    let key = self.key_of(&cells);
                    // A key change: the row under the old key goes away.
                    let moved = match old_key {
                        Some(old) if old != key => self.set.remove(&old).map(|s| s.value),
                        _ => None,
                    };
                    let Some((before, after)) = self.store(key, &cells)? else {
                        continue;
                    };
                    let change = match before.or(moved) {
                        // Moved into the filter: new to the set.
                        None => LiveChange::Inserted(after),
                        before => LiveChange::Updated { before, after },
                    };
                    self.push(emit, change, seq);
                }
            }
            LiveEvent::Delete { old_values } => {
                for old in old_values {
                    if let Some(key) = self.lookup_key(old.cells()) {
                        self.leave(&key, old.seq(), emit, seq);
                    }
                }
            }
            LiveEvent::Disconnected { reason } => {
                self.push(emit, LiveChange::Disconnected { reason }, None);
            }
            LiveEvent::Resumed { from } => {
                self.initial_data |= from.is_some();
                self.push(emit, LiveChange::Resumed { from }, from);
            }
            LiveEvent::Error { code, message } => {
                return Err(if code == "CONNECTION_CLOSED" {
                    Error::Protocol(format!("the live connection closed: {message}"))
                } else {
                    Error::Sql {
                        code: ErrorCode::parse(&code),
                        message,
                        details: None,
                    }
                });
            }
        }
        Ok(())
    }

    /// Replaces the set with an HTTP snapshot plus the changes buffered while it was read
    /// (merged by `_seq`). `diff`: report the differences to the previous set as events.
    fn load_snapshot(
        &mut self,
        snapshot: Snapshot,
        buffered: Vec<LiveEvent>,
        diff: bool,
    ) -> Result<()> {
        let fresh = self.set.empty_like();
        let old = std::mem::replace(&mut self.set, fresh);
        let n = snapshot.rows.len();
        let mut max_row_seq = None;
        for cells in &snapshot.rows {
            let key = self.key_of(cells);
            let seq = seq_of(cells);
            max_row_seq = max_row_seq.max(seq);
            let value = Arc::new(self.decode(cells)?);
            self.set.upsert(key, value, seq);
        }
        self.bump(snapshot.high_water.or(max_row_seq));
        for event in buffered {
            self.apply_event(event, false)?;
        }
        self.state = LoadState::Ready;
        if !diff {
            // Resumed from a checkpoint: rows changed since that the WHERE does not accept
            // (some left it) are reported, so that rows saved with the checkpoint can be
            // dropped (a reload's diff below reports them anyway).
            for cells in &snapshot.left {
                if let Some(key) = self.lookup_key(cells)
                    && self.set.get(&key).is_none()
                {
                    let change = LiveChange::Deleted { key, before: None };
                    self.push(true, change, self.last_seq);
                }
            }
        }
        if diff {
            let mut changes = Vec::new();
            for (key, was) in old.entries() {
                match self.set.get(key) {
                    None => changes.push(LiveChange::Deleted {
                        key: key.clone(),
                        before: Some(Arc::clone(&was.value)),
                    }),
                    Some(now) if now.seq != was.seq || now.seq.is_none() => {
                        changes.push(LiveChange::Updated {
                            before: Some(Arc::clone(&was.value)),
                            after: Arc::clone(&now.value),
                        });
                    }
                    Some(_) => {}
                }
            }
            for (key, now) in self.set.entries() {
                if old.get(key).is_none() {
                    changes.push(LiveChange::Inserted(Arc::clone(&now.value)));
                }
            }
            for change in changes {
                self.push(true, change, self.last_seq);
            }
        }
        let change = LiveChange::Snapshot {
            batch_num: snapshot.pages,
            rows: n,
        };
        self.push(true, change, self.last_seq);
        Ok(())
    }
}

/// How the rows are loaded.
enum Phase {
    /// Rows come from the server's initial data (options with `last_rows`) or not at all
    /// (without initial data); reconnects resume from the last `_seq`.
    Server,
    /// HTTP snapshot in progress; changes are buffered.
    Loading {
        snapshot: crate::transport::BoxFuture<'static, Result<Snapshot>>,
        buffered: Vec<LiveEvent>,
        diff: bool,
        attempt: u32,
    },
    /// After a reconnect: waiting for the new subscription's ack before reloading.
    AwaitingAck { buffered: Vec<LiveEvent> },
    /// HTTP-loaded and live.
    Live,
}

/// How many times a failed snapshot is retried before the error is reported.
const SNAPSHOT_RETRIES: u32 = 3;

/// A live, materialized row set of `T`: a [`Stream`] of [`LiveRowsEvent`] plus borrowed
/// views of the current rows. Dropping it unsubscribes.
#[must_use = "a subscription does nothing unless its stream is polled"]
pub struct LiveRows<T> {
    events: LiveEvents,
    client: KalamClient,
    plan: Option<Arc<SnapshotPlan>>,
    phase: Phase,
    rows: LiveRowsMaterializer<T>,
    errors: VecDeque<Error>,
    /// A snapshot has been applied: later reloads report their differences.
    loaded: bool,
}

impl<T> fmt::Debug for LiveRows<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveRows")
            .field("subscription_id", &self.events.subscription_id())
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl<T: KalamRow> LiveRows<T> {
    /// The rows in the window (all rows without a limit), in the configured order (default:
    /// primary key).
    pub fn rows(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.rows.rows()
    }

    /// The rows in the window as shared values (cheap to keep beyond the next poll).
    pub fn shared_rows(&self) -> impl DoubleEndedIterator<Item = &Arc<T>> + ExactSizeIterator {
        self.rows.set.window()
    }

    /// Every row of the set, ignoring the limit, in order.
    pub fn all_rows(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.rows.set.all().map(|v| &**v)
    }

    /// The row with this key (also when it is outside the window).
    pub fn get(&self, key: &RowKey) -> Option<&T> {
        self.rows.set.get(key).map(|s| &*s.value)
    }

    /// Rows in the window.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Rows in the whole set (the window plus rows beyond the limit).
    pub fn total_len(&self) -> usize {
        self.rows.set.total()
    }

    /// True when the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Loading state.
    pub fn state(&self) -> LoadState {
        match self.phase {
            Phase::Server => self.rows.state,
            Phase::Live => LoadState::Ready,
            Phase::Loading { .. } | Phase::AwaitingAck { .. } => LoadState::Loading,
        }
    }

    /// The columns that identify rows.
    pub fn key_columns(&self) -> &[String] {
        &self.rows.key_columns
    }

    /// The resume point: every change up to it is reflected in the set. Save it and pass it
    /// to [`SubscriptionOptions::with_from`] in a new process to receive only later changes.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.rows.checkpoint()
    }

    fn start_snapshot(&mut self, buffered: Vec<LiveEvent>, diff: bool, attempt: u32) {
        let Some(plan) = self.plan.clone() else {
            self.phase = Phase::Live;
            return;
        };
        let client = self.client.clone();
        let snapshot = Box::pin(async move {
            if attempt > 0 {
                crate::transport::sleep(Duration::from_millis(200) * attempt).await;
            }
            plan.run(client).await
        });
        self.rows.state = LoadState::Loading;
        self.phase = Phase::Loading {
            snapshot,
            buffered,
            diff,
            attempt,
        };
    }

    /// Routes one raw event by phase.
    fn on_event(&mut self, event: LiveEvent) -> Result<()> {
        match (&mut self.phase, event) {
            (Phase::Server, event) => return self.rows.apply_event(event, true),
            (_, LiveEvent::Disconnected { reason }) => {
                self.phase = Phase::AwaitingAck {
                    buffered: Vec::new(),
                };
                self.rows.state = LoadState::Loading;
                self.rows
                    .push(true, LiveChange::Disconnected { reason }, None);
            }
            (_, LiveEvent::Resumed { from }) => {
                self.rows.push(true, LiveChange::Resumed { from }, from);
            }
            (Phase::AwaitingAck { buffered }, LiveEvent::Ack { .. }) => {
                let buffered = std::mem::take(buffered);
                self.start_snapshot(buffered, self.loaded, 0);
            }
            (_, LiveEvent::Ack { .. }) => {}
            (_, event @ LiveEvent::Error { .. }) => return self.rows.apply_event(event, true),
            (Phase::Loading { buffered, .. } | Phase::AwaitingAck { buffered }, event) => {
                buffered.push(event);
            }
            (Phase::Live, event) => return self.rows.apply_event(event, true),
        }
        Ok(())
    }

    /// Polls the snapshot in progress.
    fn poll_snapshot(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let Phase::Loading {
            snapshot,
            buffered,
            diff,
            attempt,
        } = &mut self.phase
        else {
            return Poll::Pending;
        };
        let result = match snapshot.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        let buffered = std::mem::take(buffered);
        let (diff, attempt) = (*diff, *attempt);
        match result {
            Ok(snapshot) => {
                self.phase = Phase::Live;
                self.loaded = true;
                Poll::Ready(self.rows.load_snapshot(snapshot, buffered, diff))
            }
            Err(e) if attempt < SNAPSHOT_RETRIES => {
                tracing::debug!(attempt, "live snapshot failed, retrying: {e}");
                self.start_snapshot(buffered, diff, attempt + 1);
                Poll::Ready(Ok(()))
            }
            Err(e) => {
                self.phase = Phase::Live;
                Poll::Ready(Err(e))
            }
        }
    }
}

impl<T: KalamRow> Stream for LiveRows<T> {
    type Item = Result<LiveRowsEvent<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(e) = this.errors.pop_front() {
                return Poll::Ready(Some(Err(e)));
            }
            if let Some(event) = this.rows.queue.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            match Pin::new(&mut this.events).poll_next(cx) {
                Poll::Ready(Some(event)) => {
                    if let Err(e) = this.on_event(event) {
                        this.errors.push_back(e);
                    }
                    continue;
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {}
            }
            match this.poll_snapshot(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => this.errors.push_back(e),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl KalamClient {
    /// Subscribes and materializes the rows as `T`, keyed and ordered by the table's primary
    /// key (else `id`). The first event is the complete initial set ([`LiveChange::Snapshot`],
    /// read over HTTP with keyset paging, so it is complete even beyond the server's
    /// 1,000-row initial-data cap); changes follow. After a reconnect the set is reloaded
    /// and the differences are reported as changes.
    ///
    /// Subscribing as an admin to a USER table gives a view that is stale by the server's
    /// design: KalamDB reads every user's partition for an admin's query (observed for
    /// `root`, role `system`, on 0.4.3), so the initial set holds everybody's rows, but it
    /// sends change events only for the rows of the subscriber's own partition. Follow a
    /// user's rows with a client signed in as that user.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use futures_util::StreamExt;
    /// use kalam_client::{AuthProvider, KalamClient, Row};
    /// let client = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
    ///     .build()?;
    /// kalam_client::query("CREATE NAMESPACE IF NOT EXISTS doc").execute(&client).await?;
    /// kalam_client::query("CREATE SHARED TABLE doc.items (id BIGINT PRIMARY KEY, name TEXT)").execute(&client).await?;
    /// kalam_client::query("INSERT INTO doc.items (id, name) VALUES (2, 'b'), (1, 'a')").execute(&client).await?;
    /// let mut live = client.live::<Row>("SELECT * FROM doc.items").await?;
    /// live.next().await.transpose()?; // the initial set
    /// assert_eq!(live.rows().map(|r| r.get::<String, _>("name")).collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn live<T: KalamRow>(&self, sql: &str) -> Result<LiveRows<T>> {
        self.live_with_config(sql, LiveRowsConfig::new(), SubscriptionOptions::new())
            .await
    }

    /// [`KalamClient::live`] with a [`LiveRowsConfig`] (key columns, order, limit) and
    /// [`SubscriptionOptions`]:
    ///
    /// - [`SubscriptionOptions::new`] (default) or `with_batch_size(n)`: the complete set over
    ///   HTTP, `n` rows per page (at most 1,000);
    /// - `with_from(checkpoint)`: only the rows inserted or updated after the checkpoint
    ///   (merge them into the rows you saved with it; rows deleted meanwhile are not reported,
    ///   a server limit, protocol 3.9; in exact mode every row changed meanwhile that the WHERE
    ///   does not accept, such as a row updated out of it, is reported as
    ///   [`LiveChange::Deleted`] with `before: None`: drop it from the saved rows), then
    ///   changes;
    /// - `with_last_rows(n)`: the server's initial data, with its quirks (protocol 3.6);
    /// - [`SubscriptionOptions::without_initial_data`]: changes only.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use futures_util::StreamExt;
    /// use kalam_client::live::{LiveRowsConfig, SubscriptionOptions};
    /// use kalam_client::{AuthProvider, KalamClient};
    /// let client = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
    ///     .build()?;
    /// kalam_client::query("CREATE NAMESPACE IF NOT EXISTS doc").execute(&client).await?;
    /// kalam_client::query("CREATE SHARED TABLE doc.scores (id BIGINT PRIMARY KEY, score INT)").execute(&client).await?;
    /// kalam_client::query("INSERT INTO doc.scores (id, score) VALUES (1, 5), (2, 9), (3, 7)").execute(&client).await?;
    /// let top2 = LiveRowsConfig::new().order_by_desc(|r: &(i64, i32)| r.1).with_limit(2);
    /// let mut live = client
    ///     .live_with_config("SELECT id, score FROM doc.scores", top2, SubscriptionOptions::new())
    ///     .await?;
    /// live.next().await.transpose()?;
    /// assert_eq!(live.rows().map(|r| r.0).collect::<Vec<_>>(), [2, 3]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn live_with_config<T: KalamRow, O: RowOrder<T>>(
        &self,
        sql: &str,
        config: LiveRowsConfig<O>,
        options: SubscriptionOptions,
    ) -> Result<LiveRows<T>> {
        let http = options.initial_data() && options.last_rows().is_none();
        let (wire_options, plan_parts) = if http {
            (
                SubscriptionOptions::without_initial_data(),
                Some(split_live_sql(sql)?),
            )
        } else {
            (options.clone(), None)
        };
        let mode = config.filter_mode;
        let wire = super::filter::plan(self, sql, mode, &config.stable_columns).await?;
        if options.last_rows().is_some() && wire.filter.is_some() && !wire.server_filters_all {
            return Err(Error::LiveFilter {
                mode,
                message:
                    "`with_last_rows` picks the newest rows on the server, which in exact mode \
                          does not evaluate this WHERE: it would pick rows outside the filter"
                        .to_owned(),
                help: Some(
                    "load the initial set over HTTP (the default options) and keep the newest N \
                     with `LiveRowsConfig::order_by_desc(..).with_limit(n)`, or use \
                     `FilterMode::Server`"
                        .to_owned(),
                ),
            });
        }
        let wire_sql = wire.sql.as_deref().unwrap_or(sql);
        let events =
            LiveEvents::subscribe(self, "live_rows", wire_sql, &wire_options, http).await?;
        let mut rows = LiveRowsMaterializer::new(config);
        rows.filter = wire.filter;
        rows.hidden = wire.hidden;
        rows.initial_data = options.initial_data();
        if rows.initial_data {
            rows.state = LoadState::Loading;
        }
        rows.set_schema(Arc::clone(events.schema()))?;
        let plan = plan_parts.map(|parts| {
            let key = match &rows.key_columns[..] {
                [one]
                    if events
                        .schema()
                        .iter()
                        .any(|f| f.is_primary_key() && f.name.eq_ignore_ascii_case(one)) =>
                {
                    Some(one.clone())
                }
                _ => None,
            };
            Arc::new(SnapshotPlan {
                parts,
                key,
                after_seq: options.from(),
                page: options.batch_size().unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE),
                filter: rows.filter.clone().filter(|_| mode == FilterMode::Exact),
            })
        });
        let mut live = LiveRows {
            events,
            client: self.clone(),
            plan,
            phase: Phase::Server,
            rows,
            errors: VecDeque::new(),
            loaded: false,
        };
        if live.plan.is_some() {
            live.start_snapshot(Vec::new(), false, 0);
        }
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Row;

    const ACK: &str = r#"{"type":"subscription_ack","subscription_id":"s","total_rows":0,"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"n","data_type":"Int","index":1},{"name":"_deleted","data_type":"Boolean","index":2}]}"#;

    fn change(kind: &str, rows: &str, old: &str) -> String {
        format!(
            r#"{{"type":"change","subscription_id":"s","change_type":"{kind}","rows":[{rows}],"old_values":[{old}]}}"#
        )
    }

    fn apply(m: &mut LiveRowsMaterializer<Row>, frame: &str) -> Vec<LiveChange<Row>> {
        m.apply_frame(frame).unwrap().map(|e| e.change).collect()
    }

    fn ns(m: &LiveRowsMaterializer<Row>) -> Vec<(i64, Option<i32>)> {
        m.rows().map(|r| (r.get("id"), r.get("n"))).collect()
    }

    #[test]
    fn stale_and_replayed_changes_are_skipped() {
        let mut m = LiveRowsMaterializer::<Row>::new(LiveRowsConfig::new());
        apply(&mut m, ACK);
        let insert = change(
            "insert",
            r#"{"id":"2","n":1,"_seq":"10","_deleted":false}"#,
            "",
        );
        assert!(matches!(
            apply(&mut m, &insert)[..],
            [LiveChange::Inserted(_)]
        ));
        assert!(apply(&mut m, &insert).is_empty());
        // Update rows omit NULL columns and `_deleted`.
        let update = change(
            "update",
            r#"{"id":"2","_seq":"12"}"#,
            r#"{"id":"2","n":1,"_seq":"10"}"#,
        );
        let changes = apply(&mut m, &update);
        let [
            LiveChange::Updated {
                before: Some(before),
                after,
            },
        ] = &changes[..]
        else {
            panic!("{changes:?}")
        };
        assert_eq!(before.get::<Option<i32>, _>("n"), Some(1));
        assert_eq!(after.get::<Option<i32>, _>("n"), None);
        assert!(!after.get::<bool, _>("_deleted"));
        // An older version (a replay from before the update) changes nothing.
        let stale = change(
            "update",
            r#"{"id":"2","n":5,"_seq":"11"}"#,
            r#"{"id":"2","_seq":"10"}"#,
        );
        assert!(apply(&mut m, &stale).is_empty());
        assert_eq!(ns(&m), [(2, None)]);
        // Deleting a row that is not in the set reports nothing.
        let gone = r#"{"type":"change","subscription_id":"s","change_type":"delete","old_values":[{"id":"9","_seq":"13"}]}"#;
        assert!(apply(&mut m, gone).is_empty());
        let delete = r#"{"type":"change","subscription_id":"s","change_type":"delete","old_values":[{"id":"2","_seq":"14"}]}"#;
        let changes = apply(&mut m, delete);
        assert!(
            matches!(&changes[..], [LiveChange::Deleted { key, before: Some(_) }] if key.as_i64() == Some(2))
        );
        assert!(m.is_empty());
        assert_eq!(m.checkpoint(), Some(Checkpoint(14)));
    }

    #[test]
    fn a_key_change_moves_the_row() {
        let mut m = LiveRowsMaterializer::<Row>::new(LiveRowsConfig::new());
        apply(&mut m, ACK);
        apply(
            &mut m,
            &change("insert", r#"{"id":"1","n":1,"_seq":"1"}"#, ""),
        );
        apply(
            &mut m,
            &change("insert", r#"{"id":"3","n":3,"_seq":"2"}"#, ""),
        );
        let moved = change(
            "update",
            r#"{"id":"5","n":1,"_seq":"3"}"#,
            r#"{"id":"1","_seq":"1"}"#,
        );
        let changes = apply(&mut m, &moved);
        assert!(matches!(
            &changes[..],
            [LiveChange::Updated {
                before: Some(_),
                ..
            }]
        ));
        assert_eq!(ns(&m), [(3, Some(3)), (5, Some(1))]);
        assert!(m.apply_frame("not json").is_err());
    }
}
