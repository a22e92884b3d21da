//! The in-memory store: catalog, per-partition rows, users, SeqIds and the change feed.
//!
//! Rows are typed ([`Value`]) and shared (`Arc<Row>`), so snapshots are pointer copies. Each
//! partition caches the Arrow batch of its visible rows until the next write.

pub(crate) mod seq;
pub(crate) mod value;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use datafusion::arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use kalam_schema::{Catalog, Table, TableKind};
use tokio::sync::mpsc;

use crate::changes::{ChangeEvent, ChangeKind};
use crate::role::Role;
use value::{Key, Value, arrow_type};

/// One stored row version.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Values of the user columns, in column order (no `_seq`/`_deleted`).
    pub values: Vec<Value>,
    /// `_seq` of this version.
    pub seq: i64,
    /// `_deleted`: true for a tombstone.
    pub deleted: bool,
    /// The internal commit-order counter (`_commit_seq`).
    pub commit_seq: u64,
}

/// A stored user account.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) password: Option<String>,
    pub(crate) role: Role,
    pub(crate) email: Option<String>,
    pub(crate) created_at_ms: i64,
    pub(crate) updated_at_ms: i64,
    pub(crate) deleted_at_ms: Option<i64>,
}

impl User {
    pub(crate) fn new(id: &str, password: Option<&str>, role: Role) -> User {
        let now = crate::time::now_ms();
        User {
            id: id.to_owned(),
            password: password.map(hash_password),
            role,
            email: None,
            created_at_ms: now,
            updated_at_ms: now,
            deleted_at_ms: None,
        }
    }

    pub(crate) fn check_password(&self, pw: &str) -> bool {
        match &self.password {
            Some(h) => *h == hash_password(pw),
            None => false,
        }
    }
}

/// A salted-free SHA-256 of the password: the emulator keeps no real secrets.
pub(crate) fn hash_password(pw: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("kalam-emulator:{pw}").as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Metadata of a namespace that the catalog model does not carry.
#[derive(Debug, Clone)]
pub(crate) struct NsMeta {
    pub(crate) created_at_ms: i64,
}

/// One partition of a table: the rows of one owner (USER/STREAM) or all rows (SHARED).
#[derive(Debug, Default)]
pub(crate) struct Partition {
    pub(crate) rows: BTreeMap<Key, Arc<Row>>,
    cache: Option<RecordBatch>,
}

/// A table's definition and data.
#[derive(Debug)]
pub(crate) struct TableState {
    pub(crate) def: Arc<Table>,
    pub(crate) schema: SchemaRef,
    pub(crate) created_at_ms: i64,
    pub(crate) updated_at_ms: i64,
    pub(crate) version: u64,
    pub(crate) partitions: HashMap<String, Partition>,
    /// Earlier definitions, oldest first (`system.schemas` lists every version).
    pub(crate) history: Vec<PastSchema>,
}

/// A table definition replaced by an ALTER.
#[derive(Debug, Clone)]
pub(crate) struct PastSchema {
    pub(crate) version: u64,
    pub(crate) def: Arc<Table>,
    pub(crate) updated_at_ms: i64,
}

/// When a topic was created and last changed (`system.topics`).
#[derive(Debug, Clone)]
pub(crate) struct TopicMeta {
    pub(crate) created_at_ms: i64,
    pub(crate) updated_at_ms: i64,
    sources: usize,
}

/// `(namespace, table)`
pub(crate) type TableId = (String, String);

/// Everything behind the store lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) catalog: Catalog,
    pub(crate) namespaces: BTreeMap<String, NsMeta>,
    pub(crate) tables: HashMap<TableId, TableState>,
    pub(crate) users: BTreeMap<String, User>,
    pub(crate) topics: BTreeMap<TableId, TopicMeta>,
}

/// Undo information of an explicit transaction.
#[derive(Debug, Default)]
pub(crate) struct TxLog {
    pub(crate) id: String,
    undo: Vec<(TableId, String, Key, Option<Arc<Row>>)>,
    events: Vec<Arc<ChangeEvent>>,
}

impl TxLog {
    pub(crate) fn new(id: String) -> TxLog {
        TxLog {
            id,
            ..TxLog::default()
        }
    }
}

/// The store shared by the HTTP handlers, the query engine and (later) the WebSocket.
#[derive(Debug)]
pub(crate) struct Store {
    state: RwLock<State>,
    pub(crate) seq: Arc<seq::SeqGen>,
    commit_seq: AtomicU64,
    listeners: Mutex<Vec<mpsc::UnboundedSender<Arc<ChangeEvent>>>>,
    /// Topic logs and consumer groups (fed from the commit path).
    pub(crate) topics: crate::topics::Topics,
    /// Uploaded files of FILE columns.
    pub(crate) files: crate::files::FileStore,
}

/// Partition key of a table for an effective user.
pub(crate) fn partition_key(kind: TableKind, user: &str) -> String {
    match kind {
        TableKind::User | TableKind::Stream => user.to_owned(),
        _ => String::new(),
    }
}

/// Arrow schema of a table: its columns (system columns included) with KalamDB metadata.
pub(crate) fn table_schema(def: &Table) -> SchemaRef {
    let fields: Vec<Field> = def
        .columns
        .iter()
        .map(|c| {
            let mut md = std::collections::HashMap::new();
            md.insert(
                crate::engine::schema::META_TYPE.to_owned(),
                c.ty.wire_json(),
            );
            let flags = c.flags();
            if !flags.is_empty() {
                md.insert(
                    crate::engine::schema::META_FLAGS.to_owned(),
                    flags.join(","),
                );
            }
            Field::new(c.name.clone(), arrow_type(c.ty), c.nullable).with_metadata(md)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

impl TableState {
    fn new(def: Table) -> TableState {
        let now = crate::time::now_ms();
        let schema = table_schema(&def);
        TableState {
            def: Arc::new(def),
            schema,
            created_at_ms: now,
            updated_at_ms: now,
            version: 1,
            partitions: HashMap::new(),
            history: Vec::new(),
        }
    }

    /// STREAM tables: drops the rows of one partition whose `TTL_SECONDS` have passed since
    /// they were written (the write time is the time part of the row's `_seq`). Evictions are
    /// silent: no change event, no topic message, no WebSocket frame (protocol 3.7 and 13.2:
    /// how the server announces them was never observed).
    pub(crate) fn evict_expired(&mut self, part: &str) {
        let Some(ttl_ms) = self
            .def
            .options
            .ttl_seconds
            .filter(|_| self.def.kind == TableKind::Stream)
            .map(|s| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX))
        else {
            return;
        };
        let Some(p) = self.partitions.get_mut(part) else {
            return;
        };
        let cutoff = crate::time::now_ms().saturating_sub(ttl_ms);
        let before = p.rows.len();
        p.rows.retain(|_, r| seq::time_ms(r.seq) > cutoff);
        if p.rows.len() != before {
            p.cache = None;
        }
    }

    /// The Arrow batch of the visible (not deleted, not expired) rows of one partition, in key
    /// order.
    pub(crate) fn batch(&mut self, part: &str) -> Result<RecordBatch, String> {
        self.evict_expired(part);
        let def = self.def.clone();
        let schema = self.schema.clone();
        let p = self.partitions.entry(part.to_owned()).or_default();
        if let Some(b) = &p.cache {
            return Ok(b.clone());
        }
        let live: Vec<&Arc<Row>> = p.rows.values().filter(|r| !r.deleted).collect();
        let b = build_batch(&def, &schema, &live)?;
        p.cache = Some(b.clone());
        Ok(b)
    }
}

/// Builds an Arrow batch for `rows` of table `def`.
pub(crate) fn build_batch(
    def: &Table,
    schema: &SchemaRef,
    rows: &[&Arc<Row>],
) -> Result<RecordBatch, String> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(def.columns.len());
    let mut user_idx = 0usize;
    for c in &def.columns {
        if c.system {
            if c.name == "_seq" {
                arrays.push(Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| r.seq),
                )));
            } else {
                arrays.push(Arc::new(BooleanArray::from_iter(
                    rows.iter().map(|r| Some(r.deleted)),
                )));
            }
            continue;
        }
        let ty = c.ty;
        let k = user_idx;
        user_idx += 1;
        let dt = arrow_type(ty);
        if rows.is_empty() {
            arrays.push(datafusion::arrow::array::new_empty_array(&dt));
            continue;
        }
        let scalars = rows.iter().map(|r| {
            r.values
                .get(k)
                .map(|v| v.to_scalar(ty))
                .unwrap_or_else(|| ScalarValue::try_from(&dt).unwrap_or(ScalarValue::Null))
        });
        let arr = ScalarValue::iter_to_array(scalars).map_err(|e| e.strip_backtrace())?;
        arrays.push(arr);
    }
    RecordBatch::try_new(schema.clone(), arrays).map_err(|e| e.to_string())
}

/// A write to apply: one row operation inside a partition.
#[derive(Debug)]
pub(crate) enum WriteOp {
    /// Insert a new row; `key` is `None` for tables without a primary key.
    Insert(Vec<Value>),
    /// Replace the live row with this key.
    Update(Key, Vec<Value>),
    /// Tombstone the live row with this key.
    Delete(Key),
}

/// Why a write was refused.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// Duplicate primary key (message text per protocol 9).
    PrimaryKey(String),
    /// The table vanished.
    NoTable(String),
}

impl Store {
    pub(crate) fn new() -> Store {
        let mut catalog = Catalog::with_builtins();
        catalog.namespaces.retain(|_, _| true);
        let mut namespaces = BTreeMap::new();
        let now = crate::time::now_ms();
        for name in catalog.namespaces.keys() {
            namespaces.insert(name.clone(), NsMeta { created_at_ms: now });
        }
        Store {
            state: RwLock::new(State {
                catalog,
                namespaces,
                tables: HashMap::new(),
                users: BTreeMap::new(),
                topics: BTreeMap::new(),
            }),
            seq: Arc::new(seq::SeqGen::new()),
            commit_seq: AtomicU64::new(0),
            listeners: Mutex::new(Vec::new()),
            topics: crate::topics::Topics::default(),
            files: crate::files::FileStore::default(),
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a change listener. Every committed change is sent to it, in commit order.
    pub(crate) fn subscribe(&self) -> mpsc::UnboundedReceiver<Arc<ChangeEvent>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        rx
    }

    pub(crate) fn publish(&self, events: Vec<Arc<ChangeEvent>>) {
        if events.is_empty() {
            return;
        }
        let mut ls = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        ls.retain(|l| !l.is_closed());
        for e in events {
            for l in ls.iter() {
                let _ = l.send(e.clone());
            }
        }
    }

    /// Brings the stored tables in line with the catalog after a DDL statement: new tables
    /// get storage, dropped ones lose it, altered ones have their rows reshaped.
    pub(crate) fn sync_tables(state: &mut State) {
        Store::sync_tables_renaming(state, None, &[]);
    }

    /// [`Store::sync_tables`] after an ALTER of `renamed_in` that renamed columns
    /// (`(from, to)` pairs, in statement order): renamed columns keep their values.
    pub(crate) fn sync_tables_renaming(
        state: &mut State,
        renamed_in: Option<&TableId>,
        renames: &[(String, String)],
    ) {
        let now = crate::time::now_ms();
        let mut seen: Vec<TableId> = Vec::new();
        let defs: Vec<Table> = state
            .catalog
            .tables()
            .filter(|t| t.kind != TableKind::System)
            .cloned()
            .collect();
        for def in defs {
            let id = (def.namespace.clone(), def.name.clone());
            seen.push(id.clone());
            match state.tables.get_mut(&id) {
                None => {
                    state.tables.insert(id, TableState::new(def));
                }
                Some(ts) if *ts.def != def => {
                    ts.history.push(PastSchema {
                        version: ts.version,
                        def: ts.def.clone(),
                        updated_at_ms: ts.updated_at_ms,
                    });
                    let renames = if renamed_in == Some(&id) {
                        renames
                    } else {
                        &[]
                    };
                    reshape(ts, def, renames);
                    ts.version += 1;
                    ts.updated_at_ms = now;
                }
                Some(_) => {}
            }
        }
        state.tables.retain(|id, _| seen.contains(id));
        for ns in state.catalog.namespaces.keys() {
            state
                .namespaces
                .entry(ns.clone())
                .or_insert(NsMeta { created_at_ms: now });
        }
        let names: Vec<String> = state.catalog.namespaces.keys().cloned().collect();
        state.namespaces.retain(|k, _| names.contains(k));
        let topics: Vec<(TableId, usize)> = state
            .catalog
            .namespaces
            .values()
            .flat_map(|ns| ns.topics.values())
            .map(|t| ((t.namespace.clone(), t.name.clone()), t.sources.len()))
            .collect();
        state
            .topics
            .retain(|id, _| topics.iter().any(|(t, _)| t == id));
        for (id, sources) in topics {
            let meta = state.topics.entry(id).or_insert(TopicMeta {
                created_at_ms: now,
                updated_at_ms: now,
                sources,
            });
            if meta.sources != sources {
                meta.sources = sources;
                meta.updated_at_ms = now;
            }
        }
    }

    /// Applies row operations to one partition atomically: either all succeed or none.
    /// Returns the change events (already published unless `tx` is given).
    pub(crate) fn apply(
        &self,
        table: &TableId,
        part: &str,
        owner: Option<&str>,
        user_id: &str,
        ops: Vec<WriteOp>,
        tx: Option<&mut TxLog>,
    ) -> Result<usize, WriteError> {
        let mut st = self.write();
        let ts = st
            .tables
            .get_mut(table)
            .ok_or_else(|| WriteError::NoTable(format!("{}.{}", table.0, table.1)))?;
        ts.evict_expired(part);
        let def = ts.def.clone();
        let pk_idx = def.user_columns().position(|c| c.primary_key);
        let pk_col = def.primary_key().cloned();
        let p = ts.partitions.entry(part.to_owned()).or_default();
        // Validate first so a failing statement leaves nothing behind.
        let mut new_keys: std::collections::HashSet<Key> = std::collections::HashSet::new();
        for op in &ops {
            if let (WriteOp::Insert(vals), Some(i), Some(col)) = (op, pk_idx, pk_col.as_ref())
                && let Some(k) = vals.get(i).and_then(Key::of)
            {
                {
                    let live = p.rows.get(&k).is_some_and(|r| !r.deleted);
                    if live {
                        return Err(WriteError::PrimaryKey(format!(
                            "Already exists: Primary key violation: value '{}' already exists in column '{}'",
                            value::display_value(&vals[i], col.ty),
                            col.name
                        )));
                    }
                    if !new_keys.insert(k) {
                        return Err(WriteError::PrimaryKey(format!(
                            "Already exists: Primary key violation: value '{}' appears multiple times in the insert batch for column '{}'",
                            value::display_value(&vals[i], col.ty),
                            col.name
                        )));
                    }
                }
            }
        }
        let mut events = Vec::with_capacity(ops.len());
        let mut undo = Vec::new();
        let mut count = 0usize;
        let def_arc = def.clone();
        for op in ops {
            let seq = self.seq.next();
            let commit_seq = self.commit_seq.fetch_add(1, Ordering::Relaxed) + 1;
            let (key, kind, new, old) = match op {
                WriteOp::Insert(values) => {
                    let key = pk_idx
                        .and_then(|i| values.get(i))
                        .and_then(Key::of)
                        .unwrap_or(Key::Seq(seq));
                    let row = Arc::new(Row {
                        values,
                        seq,
                        deleted: false,
                        commit_seq,
                    });
                    let prev = p.rows.insert(key.clone(), row.clone());
                    undo.push((table.clone(), part.to_owned(), key.clone(), prev));
                    (key, ChangeKind::Insert, row, None)
                }
                WriteOp::Update(key, values) => {
                    let Some(old) = p.rows.get(&key).filter(|r| !r.deleted).cloned() else {
                        continue;
                    };
                    let new_key = pk_idx
                        .and_then(|i| values.get(i))
                        .and_then(Key::of)
                        .unwrap_or_else(|| key.clone());
                    let row = Arc::new(Row {
                        values,
                        seq,
                        deleted: false,
                        commit_seq,
                    });
                    if new_key != key {
                        if p.rows.get(&new_key).is_some_and(|r| !r.deleted) {
                            continue;
                        }
                        p.rows.remove(&key);
                        undo.push((
                            table.clone(),
                            part.to_owned(),
                            key.clone(),
                            Some(old.clone()),
                        ));
                        let prev = p.rows.insert(new_key.clone(), row.clone());
                        undo.push((table.clone(), part.to_owned(), new_key.clone(), prev));
                        events.push(Arc::new(ChangeEvent {
                            namespace: table.0.clone(),
                            table: table.1.clone(),
                            table_def: def_arc.clone(),
                            kind: ChangeKind::Update,
                            owner: owner.map(str::to_owned),
                            user_id: user_id.to_owned(),
                            new: Some(row),
                            old: Some(old),
                        }));
                        count += 1;
                        continue;
                    }
                    p.rows.insert(key.clone(), row.clone());
                    undo.push((
                        table.clone(),
                        part.to_owned(),
                        key.clone(),
                        Some(old.clone()),
                    ));
                    (key, ChangeKind::Update, row, Some(old))
                }
                WriteOp::Delete(key) => {
                    let Some(old) = p.rows.get(&key).filter(|r| !r.deleted).cloned() else {
                        continue;
                    };
                    let row = Arc::new(Row {
                        values: old.values.clone(),
                        seq,
                        deleted: true,
                        commit_seq,
                    });
                    p.rows.insert(key.clone(), row.clone());
                    undo.push((
                        table.clone(),
                        part.to_owned(),
                        key.clone(),
                        Some(old.clone()),
                    ));
                    (key, ChangeKind::Delete, row, Some(old))
                }
            };
            let _ = key;
            events.push(Arc::new(ChangeEvent {
                namespace: table.0.clone(),
                table: table.1.clone(),
                table_def: def_arc.clone(),
                kind,
                owner: owner.map(str::to_owned),
                user_id: user_id.to_owned(),
                new: Some(new),
                old,
            }));
            count += 1;
        }
        p.cache = None;
        match tx {
            Some(log) => {
                log.undo.extend(undo);
                log.events.extend(events);
            }
            None => {
                // Publish while holding the write lock so listeners see commit order.
                self.topics.publish(&st.catalog, &events);
                self.publish(events);
            }
        }
        drop(st);
        Ok(count)
    }

    /// Commits a transaction: its changes become visible to listeners.
    pub(crate) fn commit(&self, log: TxLog) {
        let guard = self.write();
        self.topics.publish(&guard.catalog, &log.events);
        self.publish(log.events);
    }

    /// Rolls a transaction back: every row it touched gets its previous version back.
    pub(crate) fn rollback(&self, log: TxLog) {
        let mut st = self.write();
        for (table, part, key, prev) in log.undo.into_iter().rev() {
            if let Some(ts) = st.tables.get_mut(&table) {
                let p = ts.partitions.entry(part).or_default();
                match prev {
                    Some(r) => {
                        p.rows.insert(key, r);
                    }
                    None => {
                        p.rows.remove(&key);
                    }
                }
                p.cache = None;
            }
        }
    }
}

/// Re-shapes stored rows after an ALTER TABLE: values follow the columns by name (a renamed
/// column by its old name); new columns get NULL.
fn reshape(ts: &mut TableState, def: Table, renames: &[(String, String)]) {
    let old_names: Vec<String> = ts.def.user_columns().map(|c| c.name.clone()).collect();
    let mapping: Vec<Option<usize>> = def
        .user_columns()
        .map(|c| {
            // Walk the renames backwards to the name this column had before the statement.
            let mut name = c.name.clone();
            for (from, to) in renames.iter().rev() {
                if name == *to {
                    name.clone_from(from);
                }
            }
            old_names.iter().position(|n| *n == name)
        })
        .collect();
    for p in ts.partitions.values_mut() {
        for row in p.rows.values_mut() {
            let values = mapping
                .iter()
                .map(|m| {
                    m.and_then(|i| row.values.get(i).cloned())
                        .unwrap_or(Value::Null)
                })
                .collect();
            *row = Arc::new(Row {
                values,
                seq: row.seq,
                deleted: row.deleted,
                commit_seq: row.commit_seq,
            });
        }
        p.cache = None;
    }
    ts.schema = table_schema(&def);
    ts.def = Arc::new(def);
}
