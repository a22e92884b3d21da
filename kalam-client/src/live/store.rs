//! The materialized row set: a `HashMap` from row key to row (O(1) expected per lookup) plus
//! an ordered index (a `BTreeMap`, O(log n) per insert, delete or order-changing update) that
//! gives the iteration order and the `limit` window. Rows are `Arc<T>`, shared between the two
//! maps and the change events; nothing else is copied per change.

use std::any::Any;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

/// One part of a [`RowKey`]: integers compare numerically, everything else by text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum KeyPart {
    Int(i64),
    Text(Box<str>),
    /// A row that lacks a key column: unique, never matched by a change, sorted last.
    Anonymous(u64),
}

/// Identity of a row: its key cells, in key-column order. Integer keys (including BIGINT
/// cells, which arrive as strings) order numerically, text keys by content.
///
/// ```
/// use kalam_client::live::RowKey;
/// assert!(RowKey::int(9) < RowKey::int(10));
/// assert_eq!(RowKey::int(7).as_i64(), Some(7));
/// assert_eq!(RowKey::text("a").as_str(), Some("a"));
/// assert_eq!(RowKey::int(7).to_string(), "7");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey(pub(crate) Box<[KeyPart]>);

impl RowKey {
    /// The key of a row whose (single) key column holds this integer.
    pub fn int(value: i64) -> RowKey {
        RowKey(Box::new([KeyPart::Int(value)]))
    }

    /// The key of a row whose (single) key column holds this text.
    pub fn text(value: &str) -> RowKey {
        RowKey(Box::new([KeyPart::Text(value.into())]))
    }

    /// The integer of a single-column integer key.
    pub fn as_i64(&self) -> Option<i64> {
        match &*self.0 {
            [KeyPart::Int(v)] => Some(*v),
            _ => None,
        }
    }

    /// The text of a single-column text key (other types: their JSON text).
    pub fn as_str(&self) -> Option<&str> {
        match &*self.0 {
            [KeyPart::Text(v)] => Some(v),
            _ => None,
        }
    }

    /// Number of key columns.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for a key of no columns (never produced by the client).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Builds the key part of a raw JSON cell. `integral`: the column is an integer type, so
    /// a quoted BIGINT (`"12"`) is a number.
    pub(crate) fn part(raw: &str, integral: bool) -> KeyPart {
        let raw = raw.trim();
        if let Ok(n) = raw.parse::<i64>() {
            return KeyPart::Int(n);
        }
        if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            if integral && let Ok(n) = inner.parse::<i64>() {
                return KeyPart::Int(n);
            }
            if !inner.contains('\\') {
                return KeyPart::Text(inner.into());
            }
            if let Ok(text) = serde_json::from_str::<String>(raw) {
                return KeyPart::Text(text.into());
            }
        }
        KeyPart::Text(raw.into())
    }
}

impl fmt::Display for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match part {
                KeyPart::Int(v) => write!(f, "{v}")?,
                KeyPart::Text(v) => f.write_str(v)?,
                KeyPart::Anonymous(n) => write!(f, "#{n}")?,
            }
        }
        Ok(())
    }
}

/// A sort key of any `Ord` type, compared through `Any` (the ordered index holds one type).
#[allow(
    unreachable_pub,
    reason = "named by the hidden method of the public RowOrder trait; not reachable by users"
)]
pub trait SortKey: Any + Send + Sync {
    /// Compares with another key of the same set.
    fn cmp_dyn(&self, other: &dyn SortKey) -> Ordering;
    /// The key as `Any`, for the downcast.
    fn as_any(&self) -> &dyn Any;
}

impl<K: Ord + Send + Sync + 'static> SortKey for K {
    fn cmp_dyn(&self, other: &dyn SortKey) -> Ordering {
        match other.as_any().downcast_ref::<K>() {
            Some(other) => self.cmp(other),
            // One extractor makes every key of a set, so the types always agree.
            None => Ordering::Equal,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The user's sort-key extractor, type-erased.
pub(crate) type OrderFn<T> = Arc<dyn Fn(&T) -> Box<dyn SortKey> + Send + Sync>;

/// A position in a custom-ordered index: the user's sort key, then the row key.
pub(crate) struct Slot {
    sort: Box<dyn SortKey>,
    key: RowKey,
}

impl PartialEq for Slot {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Slot {}

impl PartialOrd for Slot {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Slot {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort
            .cmp_dyn(&*other.sort)
            .then_with(|| self.key.cmp(&other.key))
    }
}

/// A stored row: the shared value and the `_seq` of its version.
pub(crate) struct Stored<T> {
    pub(crate) value: Arc<T>,
    pub(crate) seq: Option<i64>,
}

/// The ordered index: by row key (the default) or by the user's sort key.
enum Index<T> {
    ByKey(BTreeMap<RowKey, Arc<T>>),
    Sorted(OrderFn<T>, BTreeMap<Slot, Arc<T>>),
}

/// The rows of an index in order.
pub(crate) enum Values<'a, T> {
    ByKey(std::collections::btree_map::Values<'a, RowKey, Arc<T>>),
    Sorted(std::collections::btree_map::Values<'a, Slot, Arc<T>>),
}

impl<'a, T> Iterator for Values<'a, T> {
    type Item = &'a Arc<T>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Values::ByKey(v) => v.next(),
            Values::Sorted(v) => v.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Values::ByKey(v) => v.size_hint(),
            Values::Sorted(v) => v.size_hint(),
        }
    }
}

impl<T> DoubleEndedIterator for Values<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Values::ByKey(v) => v.next_back(),
            Values::Sorted(v) => v.next_back(),
        }
    }
}

impl<T> ExactSizeIterator for Values<'_, T> {}

/// The full row set with its ordered index and window.
pub(crate) struct RowSet<T> {
    by_key: HashMap<RowKey, Stored<T>>,
    index: Index<T>,
    limit: Option<usize>,
}

impl<T> RowSet<T> {
    pub(crate) fn new(order: Option<OrderFn<T>>, limit: Option<usize>) -> Self {
        let index = match order {
            Some(f) => Index::Sorted(f, BTreeMap::new()),
            None => Index::ByKey(BTreeMap::new()),
        };
        RowSet {
            by_key: HashMap::new(),
            index,
            limit,
        }
    }

    /// An empty set with the same order and limit.
    pub(crate) fn empty_like(&self) -> Self {
        let order = match &self.index {
            Index::ByKey(_) => None,
            Index::Sorted(f, _) => Some(Arc::clone(f)),
        };
        RowSet::new(order, self.limit)
    }

    pub(crate) fn get(&self, key: &RowKey) -> Option<&Stored<T>> {
        self.by_key.get(key)
    }

    /// Inserts or replaces a row; returns the previous value.
    pub(crate) fn upsert(
        &mut self,
        key: RowKey,
        value: Arc<T>,
        seq: Option<i64>,
    ) -> Option<Arc<T>> {
        if let Some(stored) = self.by_key.get_mut(&key) {
            let before = std::mem::replace(&mut stored.value, Arc::clone(&value));
            stored.seq = seq;
            match &mut self.index {
                Index::ByKey(map) => {
                    if let Some(v) = map.get_mut(&key) {
                        *v = value;
                    }
                }
                Index::Sorted(order, map) => {
                    let old = Slot {
                        sort: order(&before),
                        key: key.clone(),
                    };
                    let new = Slot {
                        sort: order(&value),
                        key,
                    };
                    if old == new {
                        if let Some(v) = map.get_mut(&old) {
                            *v = value;
                        }
                    } else {
                        map.remove(&old);
                        map.insert(new, value);
                    }
                }
            }
            return Some(before);
        }
        match &mut self.index {
            Index::ByKey(map) => {
                map.insert(key.clone(), Arc::clone(&value));
            }
            Index::Sorted(order, map) => {
                let slot = Slot {
                    sort: order(&value),
                    key: key.clone(),
                };
                map.insert(slot, Arc::clone(&value));
            }
        }
        self.by_key.insert(key, Stored { value, seq });
        None
    }

    /// Removes a row; returns it.
    pub(crate) fn remove(&mut self, key: &RowKey) -> Option<Stored<T>> {
        let stored = self.by_key.remove(key)?;
        match &mut self.index {
            Index::ByKey(map) => {
                map.remove(key);
            }
            Index::Sorted(order, map) => {
                let slot = Slot {
                    sort: order(&stored.value),
                    key: key.clone(),
                };
                map.remove(&slot);
            }
        }
        Some(stored)
    }

    /// Every row (ignoring the limit), in order.
    pub(crate) fn all(&self) -> Values<'_, T> {
        match &self.index {
            Index::ByKey(map) => Values::ByKey(map.values()),
            Index::Sorted(_, map) => Values::Sorted(map.values()),
        }
    }

    /// The first `limit` rows in order.
    pub(crate) fn window(&self) -> std::iter::Take<Values<'_, T>> {
        self.all().take(self.limit.unwrap_or(usize::MAX))
    }

    /// Rows in the whole set.
    pub(crate) fn total(&self) -> usize {
        self.by_key.len()
    }

    /// Rows in the window.
    pub(crate) fn visible(&self) -> usize {
        self.limit.map_or(self.total(), |l| l.min(self.total()))
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = (&RowKey, &Stored<T>)> {
        self.by_key.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(order: Option<OrderFn<(i64, i64)>>, limit: Option<usize>) -> RowSet<(i64, i64)> {
        RowSet::new(order, limit)
    }

    fn ids(s: &RowSet<(i64, i64)>) -> Vec<i64> {
        s.window().map(|r| r.0).collect()
    }

    #[test]
    fn keys_parse_numbers_and_text() {
        assert_eq!(RowKey::part("\"12\"", true), KeyPart::Int(12));
        assert_eq!(RowKey::part("\"12\"", false), KeyPart::Text("12".into()));
        assert_eq!(RowKey::part("7", false), KeyPart::Int(7));
        assert_eq!(
            RowKey::part(r#""a\"b""#, false),
            KeyPart::Text("a\"b".into())
        );
        assert_eq!(RowKey::part("true", false), KeyPart::Text("true".into()));
    }

    #[test]
    fn default_order_is_the_key_and_the_limit_is_a_window() {
        let mut s = set(None, Some(2));
        for id in [3, 1, 2] {
            s.upsert(RowKey::int(id), Arc::new((id, 0)), Some(id));
        }
        assert_eq!(ids(&s), [1, 2]);
        assert_eq!((s.total(), s.visible()), (3, 2));
        s.remove(&RowKey::int(1));
        assert_eq!(ids(&s), [2, 3]);
        let before = s.upsert(RowKey::int(2), Arc::new((2, 5)), Some(9));
        assert_eq!(before.map(|b| b.1), Some(0));
        assert_eq!(s.window().map(|r| r.1).collect::<Vec<_>>(), [5, 0]);
    }

    #[test]
    fn custom_order_moves_rows_in_and_out_of_the_window() {
        let by_score: OrderFn<(i64, i64)> =
            Arc::new(|r: &(i64, i64)| Box::new(std::cmp::Reverse(r.1)) as Box<dyn SortKey>);
        let mut s = set(Some(by_score), Some(2));
        for (id, score) in [(1, 10), (2, 20), (3, 30)] {
            s.upsert(RowKey::int(id), Arc::new((id, score)), None);
        }
        assert_eq!(ids(&s), [3, 2]);
        // Row 1 climbs back into the top two: it was kept outside the window.
        s.upsert(RowKey::int(1), Arc::new((1, 40)), None);
        assert_eq!(ids(&s), [1, 3]);
        s.upsert(RowKey::int(3), Arc::new((3, 5)), None);
        assert_eq!(ids(&s), [1, 2]);
        assert_eq!(s.all().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3]);
        // Equal sort keys fall back to the row key.
        s.upsert(RowKey::int(2), Arc::new((2, 40)), None);
        assert_eq!(ids(&s), [1, 2]);
    }
}
