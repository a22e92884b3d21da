//! Change frames (protocol 3.7): one `change` message per changed row, shaped as the 0.4.3
//! server shapes them.
//!
//! | kind | `rows` | `old_values` |
//! |---|---|---|
//! | insert | every projected column + `_seq` (+ `_deleted: false` with `*`) | — |
//! | update | `_seq` + key + every non-null projected column | `_seq` (old) + key + projected columns that changed |
//! | delete | — | the tombstone: every projected column + new `_seq` (+ `_deleted: true` with `*`) |

use kalam_schema::Table;
use serde_json::{Map, Value};

use crate::changes::{ChangeEvent, ChangeKind};
use crate::store::Row;

/// Which columns a subscription's change rows carry.
#[derive(Debug, Clone)]
pub(crate) enum Columns {
    /// `SELECT *`: every user column, and `_deleted` on inserts and deletes.
    All,
    /// The projection's bare columns (aliased columns and expressions are left out, as the
    /// server does).
    Only(Vec<String>),
}

impl Columns {
    fn has(&self, name: &str) -> bool {
        match self {
            Columns::All => true,
            Columns::Only(c) => c.iter().any(|x| x == name),
        }
    }
}

fn seq_cell(seq: i64) -> Value {
    Value::String(seq.to_string())
}

/// `rows` of an insert, `old_values` of a delete: every projected column, NULLs included.
fn full_row(def: &Table, row: &Row, cols: &Columns) -> Map<String, Value> {
    let mut m = Map::new();
    for (c, v) in def.user_columns().zip(&row.values) {
        if cols.has(&c.name) {
            m.insert(c.name.clone(), v.to_json_cell(c.ty));
        }
    }
    m.insert("_seq".into(), seq_cell(row.seq));
    if matches!(cols, Columns::All) {
        m.insert("_deleted".into(), Value::Bool(row.deleted));
    }
    m
}

/// The `change` message of `ev` for subscription `sid`, or `None` when the event has no row.
pub(crate) fn change_frame(sid: &str, ev: &ChangeEvent, cols: &Columns) -> Option<Value> {
    let def = &ev.table_def;
    let new = ev.new.as_deref()?;
    let (rows, old_values) = match ev.kind {
        ChangeKind::Insert => (Some(full_row(def, new, cols)), None),
        ChangeKind::Delete => (None, Some(full_row(def, new, cols))),
        ChangeKind::Update => {
            let old = ev.old.as_deref()?;
            let mut r = Map::new();
            let mut o = Map::new();
            r.insert("_seq".into(), seq_cell(new.seq));
            o.insert("_seq".into(), seq_cell(old.seq));
            for (k, c) in def.user_columns().enumerate() {
                let nv = new.values.get(k);
                let ov = old.values.get(k);
                if c.primary_key {
                    if let Some(v) = nv {
                        r.insert(c.name.clone(), v.to_json_cell(c.ty));
                    }
                    if let Some(v) = ov {
                        o.insert(c.name.clone(), v.to_json_cell(c.ty));
                    }
                    continue;
                }
                if !cols.has(&c.name) {
                    continue;
                }
                if let Some(v) = nv.filter(|v| !v.is_null()) {
                    r.insert(c.name.clone(), v.to_json_cell(c.ty));
                }
                if let Some(v) = ov.filter(|ov| Some(*ov) != nv) {
                    o.insert(c.name.clone(), v.to_json_cell(c.ty));
                }
            }
            (Some(r), Some(o))
        }
    };
    Some(super::proto::change(
        sid,
        ev.kind.as_str(),
        rows,
        old_values,
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::store::value::Value as V;

    fn row(title: Option<&str>, n: i32, seq: i64, deleted: bool) -> Arc<Row> {
        Arc::new(Row {
            values: vec![
                V::BigInt(1),
                title.map_or(V::Null, |t| V::Text(t.into())),
                V::Int(n),
            ],
            seq,
            deleted,
            commit_seq: 0,
        })
    }

    fn ev(kind: ChangeKind, new: Arc<Row>, old: Option<Arc<Row>>) -> ChangeEvent {
        ChangeEvent {
            namespace: "app".into(),
            table: "t".into(),
            table_def: Arc::new(crate::ws::sample_table()),
            kind,
            owner: Some("alice".into()),
            user_id: "alice".into(),
            new: Some(new),
            old,
        }
    }

    #[test]
    fn update_to_null_and_outside_projection() {
        let e = ev(
            ChangeKind::Update,
            row(None, 5, 20, false),
            Some(row(Some("abc"), 5, 10, false)),
        );
        assert_eq!(
            change_frame("star", &e, &Columns::All).unwrap(),
            json!({"type":"change","subscription_id":"star","change_type":"update",
                   "rows":[{"id":"1","n":5,"_seq":"20"}],
                   "old_values":[{"id":"1","title":"abc","_seq":"10"}]})
        );
        let e = ev(
            ChangeKind::Update,
            row(Some("abc"), 7, 30, false),
            Some(row(Some("abc"), 6, 20, false)),
        );
        let proj = Columns::Only(vec!["id".into(), "title".into()]);
        assert_eq!(
            change_frame("p", &e, &proj).unwrap(),
            json!({"type":"change","subscription_id":"p","change_type":"update",
                   "rows":[{"id":"1","title":"abc","_seq":"30"}],
                   "old_values":[{"id":"1","_seq":"20"}]})
        );
    }

    #[test]
    fn insert_and_delete_rows() {
        let e = ev(ChangeKind::Insert, row(None, 1, 5, false), None);
        assert_eq!(
            change_frame("s", &e, &Columns::All).unwrap()["rows"],
            json!([{"id":"1","title":null,"n":1,"_seq":"5","_deleted":false}])
        );
        let e = ev(
            ChangeKind::Delete,
            row(Some("a"), 1, 9, true),
            Some(row(Some("a"), 1, 5, false)),
        );
        let proj = Columns::Only(vec!["id".into(), "title".into()]);
        let f = change_frame("s", &e, &proj).unwrap();
        assert_eq!(f["old_values"], json!([{"id":"1","title":"a","_seq":"9"}]));
        assert!(f.get("rows").is_none());
    }
}
