//! Topics (protocol 5): message logs fed synchronously by committed row changes, and
//! consumer groups with claims, a visibility timeout and committed offsets.
//!
//! Publication runs inside the store's commit path (under the store lock), so a consume that
//! follows an INSERT's HTTP response always sees the INSERT's messages.

pub(crate) mod sql;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kalam_schema::{Catalog, PayloadMode, Table, TopicOp};

use crate::changes::{ChangeEvent, ChangeKind};
use crate::store::Row;
use crate::store::value::display_value;
use crate::ws::filter::LiveFilter;

/// One published message.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) offset: u64,
    pub(crate) key: Option<String>,
    pub(crate) payload: Arc<[u8]>,
    pub(crate) timestamp_ms: i64,
    pub(crate) user: Option<String>,
    pub(crate) op: TopicOp,
}

/// `(namespace, topic name)`
type TopicKey = (String, String);

/// `(namespace, topic name, group, partition)`
type GroupKey = (String, String, String, u32);

/// A claimed-but-unacked range `[start, end)` of one group partition.
#[derive(Debug, Clone, Copy)]
struct Claim {
    start: u64,
    end: u64,
    expires: Instant,
}

/// Delivery state of one (topic, group, partition).
#[derive(Debug, Default)]
struct GroupState {
    committed: Option<u64>,
    /// When `committed` last moved (µs since the epoch).
    committed_at_us: i64,
    cursor: u64,
    claims: Vec<Claim>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Per topic: one message vector per partition.
    logs: HashMap<TopicKey, Vec<Vec<Message>>>,
    groups: HashMap<GroupKey, GroupState>,
    /// Compiled route `WHERE` filters, by SQL text.
    filters: HashMap<String, LiveFilter>,
}

/// The compiled `WHERE` of a route. The live-query evaluator decides (protocol 3.7: comparisons
/// with literals, `AND`/`OR`/`NOT`, `LIKE`); a filter it cannot evaluate publishes nothing, and
/// one that does not parse at all publishes everything, as for live queries.
fn route_filter<'a>(cache: &'a mut HashMap<String, LiveFilter>, sql: &str) -> &'a LiveFilter {
    cache
        .entry(sql.to_owned())
        .or_insert_with(|| LiveFilter::new(kalam_schema::filter::WhereClause::parse(sql).ok()))
}

/// Where a consume starts when the group has no committed offset (protocol 5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    Earliest,
    Latest,
    Offset(u64),
}

/// One fetch's answer.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) messages: Vec<Message>,
    pub(crate) next_offset: u64,
}

/// Every topic log and consumer group of one emulator.
#[derive(Debug)]
pub(crate) struct Topics {
    inner: Mutex<Inner>,
    visibility: Mutex<Duration>,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            inner: Mutex::new(Inner::default()),
            visibility: Mutex::new(Duration::from_secs(60)),
        }
    }
}

/// FNV-1a (64 bit): a deterministic partitioning hash.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn partition_log<'a>(
    logs: &'a HashMap<TopicKey, Vec<Vec<Message>>>,
    topic: (&str, &str),
    partition: u32,
) -> &'a [Message] {
    logs.get(&(topic.0.to_owned(), topic.1.to_owned()))
        .and_then(|parts| parts.get(partition as usize))
        .map_or(&[], Vec::as_slice)
}

fn group_key(topic: (&str, &str), group: &str, partition: u32) -> GroupKey {
    (
        topic.0.to_owned(),
        topic.1.to_owned(),
        group.to_owned(),
        partition,
    )
}

fn topic_op(kind: ChangeKind) -> TopicOp {
    match kind {
        ChangeKind::Insert => TopicOp::Insert,
        ChangeKind::Update => TopicOp::Update,
        ChangeKind::Delete => TopicOp::Delete,
    }
}

/// The payload map of a row (protocol 5.2): user columns, `_seq`, `_deleted`, `_commit_seq`,
/// and `_table` (`ns:table`, with a colon) unless the mode is `key`.
pub(crate) fn payload_json(def: &Table, row: &Row, mode: PayloadMode) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (c, v) in def.user_columns().zip(row.values.iter()) {
        map.insert(c.name.clone(), v.to_json_cell(c.ty));
    }
    map.insert(
        "_seq".into(),
        serde_json::Value::String(row.seq.to_string()),
    );
    map.insert("_deleted".into(), serde_json::Value::Bool(row.deleted));
    map.insert(
        "_commit_seq".into(),
        serde_json::Value::String(row.commit_seq.to_string()),
    );
    if mode != PayloadMode::Key {
        map.insert(
            "_table".into(),
            serde_json::Value::String(format!("{}:{}", def.namespace, def.name)),
        );
    }
    serde_json::Value::Object(map)
}

/// The message key: the primary-key value as a string (`None` without a primary key).
fn row_key(def: &Table, row: &Row) -> Option<String> {
    let (i, col) = def
        .user_columns()
        .enumerate()
        .find(|(_, c)| c.primary_key)?;
    let v = row.values.get(i)?;
    if v.is_null() {
        return None;
    }
    Some(display_value(v, col.ty))
}

impl Topics {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets how long a claimed range stays invisible to the group's other fetches.
    pub(crate) fn set_visibility_timeout(&self, d: Duration) {
        *self.visibility.lock().unwrap_or_else(|e| e.into_inner()) = d;
    }

    fn visibility(&self) -> Duration {
        *self.visibility.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one message per matching route for each committed change. Called from the
    /// store's commit path with the catalog of that moment.
    pub(crate) fn publish(&self, catalog: &Catalog, events: &[Arc<ChangeEvent>]) {
        let mut inner: Option<MutexGuard<'_, Inner>> = None;
        for ev in events {
            let op = topic_op(ev.kind);
            for ns in catalog.namespaces.values() {
                for topic in ns.topics.values() {
                    for src in &topic.sources {
                        if src.op != op || src.namespace != ev.namespace || src.table != ev.table {
                            continue;
                        }
                        let Some(row) = ev.new.as_ref().or(ev.old.as_ref()) else {
                            continue;
                        };
                        let g = inner.get_or_insert_with(|| self.lock());
                        if let Some(f) = &src.filter
                            && !route_filter(&mut g.filters, f).matches(&ev.table_def, row)
                        {
                            continue;
                        }
                        append(g, topic, src.payload, ev, row, op);
                    }
                }
            }
        }
    }

    /// Forgets the logs and groups of topics that no longer exist (after `DROP TOPIC`).
    fn prune(inner: &mut Inner, catalog: &Catalog) {
        inner
            .logs
            .retain(|(ns, t), _| catalog.topic(ns, t).is_some());
        inner
            .groups
            .retain(|(ns, t, _, _), _| catalog.topic(ns, t).is_some());
    }

    /// One fetch of a group on a partition (protocol 5.3 delivery semantics).
    pub(crate) fn fetch(
        &self,
        catalog: &Catalog,
        topic: (&str, &str),
        group: &str,
        partition: u32,
        start: Start,
        limit: u64,
    ) -> Fetched {
        let visibility = self.visibility();
        let mut inner = self.lock();
        Self::prune(&mut inner, catalog);
        let inner = &mut *inner;
        let log = partition_log(&inner.logs, topic, partition);
        let len = log.len() as u64;
        let g = inner
            .groups
            .entry(group_key(topic, group, partition))
            .or_insert_with(|| GroupState {
                committed: None,
                committed_at_us: 0,
                cursor: match start {
                    Start::Earliest => 0,
                    Start::Latest => len,
                    Start::Offset(n) => n,
                },
                claims: Vec::new(),
            });
        let floor = g.committed.map_or(0, |c| c + 1);
        g.claims.retain(|c| c.end > floor);
        let now = Instant::now();
        let expired = g
            .claims
            .iter()
            .enumerate()
            .filter(|(_, c)| c.expires <= now)
            .min_by_key(|(_, c)| c.start)
            .map(|(i, _)| i);
        let (from, to) = match expired {
            Some(i) => {
                let c = g.claims.remove(i);
                let from = c.start.max(floor);
                let to = c.end.min(from.saturating_add(limit));
                if to < c.end {
                    // The rest of the expired range stays up for grabs.
                    g.claims.push(Claim {
                        start: to,
                        end: c.end,
                        expires: c.expires,
                    });
                }
                (from, to)
            }
            None => {
                let from = g.cursor.max(floor);
                let to = len.min(from.saturating_add(limit)).max(from);
                g.cursor = to;
                (from, to)
            }
        };
        if to > from {
            g.claims.push(Claim {
                start: from,
                end: to,
                expires: now + visibility,
            });
        }
        let messages: Vec<Message> = log
            .iter()
            .skip(usize::try_from(from).unwrap_or(usize::MAX))
            .take(usize::try_from(to - from).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        let next_offset = messages.last().map_or(from, |m| m.offset + 1);
        Fetched {
            messages,
            next_offset,
        }
    }

    /// Messages of one partition without any group bookkeeping (`CONSUME` without `GROUP`).
    pub(crate) fn read(
        &self,
        topic: (&str, &str),
        partition: u32,
        start: Start,
        limit: u64,
    ) -> Vec<Message> {
        let inner = self.lock();
        let log = partition_log(&inner.logs, topic, partition);
        let from = match start {
            Start::Earliest => 0,
            Start::Latest => log.len() as u64,
            Start::Offset(n) => n,
        };
        log.iter()
            .skip(usize::try_from(from).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// Commits `upto` (inclusive) for a group partition: monotonic, clears covered claims.
    pub(crate) fn ack(&self, topic: (&str, &str), group: &str, partition: u32, upto: u64) {
        let mut inner = self.lock();
        let g = inner
            .groups
            .entry(group_key(topic, group, partition))
            .or_insert_with(|| GroupState {
                committed: None,
                committed_at_us: 0,
                cursor: upto + 1,
                claims: Vec::new(),
            });
        if g.committed.is_none_or(|c| upto > c) {
            g.committed = Some(upto);
            g.committed_at_us = crate::time::now_ms().saturating_mul(1000);
        }
        let floor = g.committed.map_or(0, |c| c + 1);
        g.claims.retain(|c| c.end > floor);
        for c in &mut g.claims {
            c.start = c.start.max(floor);
        }
    }

    /// Every committed offset of a topic that still exists, as `system.topic_offsets` lists
    /// them: (namespace, topic, group, partition, last acked offset, updated at in µs), sorted.
    pub(crate) fn committed(&self, catalog: &Catalog) -> Vec<CommittedOffset> {
        let inner = self.lock();
        let mut out: Vec<CommittedOffset> = inner
            .groups
            .iter()
            .filter(|((ns, t, _, _), _)| catalog.topic(ns, t).is_some())
            .filter_map(|((ns, t, group, partition), g)| {
                Some(CommittedOffset {
                    topic: format!("{ns}.{t}"),
                    group: group.clone(),
                    partition: *partition,
                    offset: g.committed?,
                    updated_at_us: g.committed_at_us,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.topic, &a.group, a.partition).cmp(&(&b.topic, &b.group, b.partition))
        });
        out
    }
}

/// One row of `system.topic_offsets`.
#[derive(Debug, Clone)]
pub(crate) struct CommittedOffset {
    pub(crate) topic: String,
    pub(crate) group: String,
    pub(crate) partition: u32,
    pub(crate) offset: u64,
    pub(crate) updated_at_us: i64,
}

fn append(
    inner: &mut Inner,
    topic: &kalam_schema::Topic,
    mode: PayloadMode,
    ev: &ChangeEvent,
    row: &Row,
    op: TopicOp,
) {
    let def = &ev.table_def;
    let key = row_key(def, row);
    let payload = payload_json(def, row, mode).to_string().into_bytes();
    let parts = topic.partitions.max(1);
    let hash = match &key {
        Some(k) => fnv1a(k.as_bytes()),
        None => fnv1a(&payload),
    };
    let partition = usize::try_from(hash % u64::from(parts)).unwrap_or(0);
    let log = inner
        .logs
        .entry((topic.namespace.clone(), topic.name.clone()))
        .or_default();
    if log.len() < parts as usize {
        log.resize_with(parts as usize, Vec::new);
    }
    let Some(p) = log.get_mut(partition) else {
        return;
    };
    p.push(Message {
        offset: p.len() as u64,
        key,
        payload: payload.into(),
        timestamp_ms: crate::time::now_ms(),
        user: ev.owner.clone().or_else(|| Some(ev.user_id.clone())),
        op,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
