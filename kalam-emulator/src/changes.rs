//! The change feed: every committed row change, in commit order.
//!
//! Subscribe with [`Emulator::changes`](crate::Emulator::changes). The WebSocket live-query
//! module and topic publication build on it.

use std::sync::Arc;

use kalam_schema::{Table, TableKind};
use tokio::sync::mpsc;

use crate::store::Row;

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// A new row (`new` is the row, `old` is `None`).
    Insert,
    /// A row was replaced (`new` and `old` are both set).
    Update,
    /// A row was soft-deleted (`new` is the tombstone with a fresh `_seq` and the last values,
    /// `old` the row before).
    Delete,
}

impl ChangeKind {
    /// `insert`, `update`, `delete` (WebSocket `change_type`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "insert",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
        }
    }
}

/// One committed row change.
#[derive(Debug, Clone)]
pub struct ChangeEvent {
    /// Namespace of the table.
    pub namespace: String,
    /// Table name.
    pub table: String,
    /// The table definition at the time of the change (column order of `Row::values` is the
    /// order of its user columns).
    pub table_def: Arc<Table>,
    /// Insert, update or delete.
    pub kind: ChangeKind,
    /// The partition owner for USER and STREAM tables; `None` for SHARED tables.
    pub owner: Option<String>,
    /// The effective user that made the change.
    pub user_id: String,
    /// The new row version (the tombstone for deletes).
    pub new: Option<Arc<Row>>,
    /// The previous row version (updates and deletes).
    pub old: Option<Arc<Row>>,
}

impl ChangeEvent {
    /// The table kind (USER, SHARED, STREAM).
    pub fn table_kind(&self) -> TableKind {
        self.table_def.kind
    }
}

/// A stream of [`ChangeEvent`]s. Nothing is dropped: the channel is unbounded, so read it.
#[derive(Debug)]
pub struct ChangeStream {
    pub(crate) rx: mpsc::UnboundedReceiver<Arc<ChangeEvent>>,
}

impl ChangeStream {
    /// The next change, or `None` once the emulator is gone.
    pub async fn recv(&mut self) -> Option<Arc<ChangeEvent>> {
        self.rx.recv().await
    }

    /// A change if one is already queued.
    pub fn try_recv(&mut self) -> Option<Arc<ChangeEvent>> {
        self.rx.try_recv().ok()
    }
}
