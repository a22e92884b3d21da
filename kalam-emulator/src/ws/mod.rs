//! WebSocket live queries (protocol 3): `GET /v1/ws`, authentication, subscriptions with
//! initial data, change routing from the store's change feed, and the 0.4.3 server's quirks.
//!
//! Layout: [`WsSettings`] (public knobs), [`Hub`] (routing of committed changes to the
//! subscriptions of every open socket, per-user quota), `conn` (one task per socket), `proto`
//! (messages), `codec` (gzip / MessagePack frames), `query` (subscription SQL shape), `filter`
//! (the live WHERE evaluator), `initial` (initial-data queries), `shape` (change frames).

mod codec;
mod conn;
pub(crate) mod filter;
mod initial;
mod proto;
mod query;
mod shape;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use kalam_schema::TableKind;
use tokio::sync::{Notify, mpsc};

use crate::changes::ChangeEvent;
use crate::http::App;
use crate::store::{Store, TableId};

/// Settings of the WebSocket endpoint. The defaults mirror a stock 0.4.3 server.
///
/// ```
/// use std::time::Duration;
/// use kalam_emulator::WsSettings;
/// let s = WsSettings::default()
///     .client_timeout(Duration::from_millis(300))
///     .heartbeat_interval(Duration::from_millis(50))
///     .max_subscriptions_per_user(100);
/// assert_eq!(s.get_client_timeout(), Duration::from_millis(300));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct WsSettings {
    auth_timeout: Duration,
    heartbeat_interval: Duration,
    client_timeout: Duration,
    max_subscriptions_per_user: usize,
    max_subscriptions_per_connection: usize,
    max_message_size: usize,
    compression: bool,
    projection_quirks: bool,
    notification_queue: Option<usize>,
}

impl Default for WsSettings {
    fn default() -> Self {
        WsSettings {
            auth_timeout: Duration::from_secs(3),
            heartbeat_interval: Duration::from_secs(5),
            client_timeout: Duration::from_secs(10),
            max_subscriptions_per_user: 10,
            max_subscriptions_per_connection: 100,
            max_message_size: 1024 * 1024,
            compression: true,
            projection_quirks: true,
            notification_queue: None,
        }
    }
}

impl WsSettings {
    /// Time a socket without an `Authorization` header has to send `authenticate` (default 3 s;
    /// the `auth_error` text always says "3 seconds", as the server's does).
    pub fn auth_timeout(mut self, d: Duration) -> Self {
        self.auth_timeout = d;
        self
    }

    /// How often the auth and idle timeouts are checked (default 5 s): a socket is closed at
    /// the first check after its timeout, as on the server.
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.heartbeat_interval = d.max(Duration::from_millis(1));
        self
    }

    /// A socket that sends no frame for this long is closed with 1000 `Heartbeat timeout`
    /// (default 10 s).
    pub fn client_timeout(mut self, d: Duration) -> Self {
        self.client_timeout = d;
        self
    }

    /// Subscriptions one user may hold across all sockets (default 10); the next one gets
    /// `SUBSCRIPTION_LIMIT_EXCEEDED`.
    pub fn max_subscriptions_per_user(mut self, n: usize) -> Self {
        self.max_subscriptions_per_user = n;
        self
    }

    /// Subscriptions per socket (default 100); the next one gets `UNSUPPORTED`.
    pub fn max_subscriptions_per_connection(mut self, n: usize) -> Self {
        self.max_subscriptions_per_connection = n;
        self
    }

    /// Largest accepted client text frame (default 1 MiB); larger ones get
    /// `MESSAGE_TOO_LARGE`.
    pub fn max_message_size(mut self, n: usize) -> Self {
        self.max_message_size = n;
        self
    }

    /// Whether frames of 512 bytes and more go out gzip-compressed as binary frames, as the
    /// server sends them (default `true`; clients can also opt out with `?compress=false`).
    pub fn compression(mut self, yes: bool) -> Self {
        self.compression = yes;
        self
    }

    /// Mirror the server's handling of projections that are not bare columns (default
    /// `true`): an alias fails the initial load with `SUBSCRIPTION_FAILED`, and aliased columns
    /// and expressions are missing from change rows. With `false`, such subscriptions are
    /// refused up front with `INVALID_SQL`.
    pub fn projection_quirks(mut self, yes: bool) -> Self {
        self.projection_quirks = yes;
        self
    }

    /// How many change notifications may wait for one socket before new ones are dropped
    /// (silently: no error frame), as the server's per-socket queue of 128 does for a
    /// subscriber that cannot keep up (protocol 3.7). Default `None`: unbounded, nothing is
    /// dropped — whether a burst overflows depends on scheduling, so a bounded queue makes
    /// tests that write bursts while subscribed nondeterministic. `Some(128)` mirrors the
    /// server.
    pub fn notification_queue(mut self, capacity: Option<usize>) -> Self {
        self.notification_queue = capacity;
        self
    }

    /// The configured idle timeout.
    pub fn get_client_timeout(&self) -> Duration {
        self.client_timeout
    }
}

/// An event for one socket.
#[derive(Debug)]
pub(crate) enum ConnEvent {
    /// A committed change for the subscription with this hub key.
    Change(u64, Arc<ChangeEvent>),
    /// The server is shutting down: close with 1001.
    Shutdown,
}

#[derive(Debug)]
struct Route {
    key: u64,
    conn: u64,
    user: String,
}

/// A socket's event channel and the number of change notifications waiting in it.
#[derive(Debug)]
struct ConnTx {
    tx: mpsc::UnboundedSender<ConnEvent>,
    queued: Arc<AtomicUsize>,
}

#[derive(Debug, Default)]
struct HubState {
    next: u64,
    conns: HashMap<u64, ConnTx>,
    routes: HashMap<TableId, Vec<Route>>,
    per_user: HashMap<String, usize>,
}

impl HubState {
    fn drop_route(&mut self, pred: impl Fn(&Route) -> bool) {
        let mut freed: Vec<String> = Vec::new();
        for rs in self.routes.values_mut() {
            rs.retain(|r| {
                let gone = pred(r);
                if gone {
                    freed.push(r.user.clone());
                }
                !gone
            });
        }
        self.routes.retain(|_, rs| !rs.is_empty());
        for u in freed {
            if let Some(n) = self.per_user.get_mut(&u) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_user.remove(&u);
                }
            }
        }
    }
}

/// Routes committed changes to the subscriptions of every open socket.
#[derive(Debug)]
pub(crate) struct Hub {
    pub(crate) settings: WsSettings,
    /// Change notifications dropped because a socket's queue was full.
    pub(crate) dropped: AtomicU64,
    state: Mutex<HubState>,
    closing: AtomicBool,
    emptied: Notify,
}

impl Hub {
    /// Creates the hub and its routing task (reading `store`'s change feed).
    pub(crate) fn start(store: &Store, settings: WsSettings) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            settings,
            dropped: AtomicU64::new(0),
            state: Mutex::new(HubState::default()),
            closing: AtomicBool::new(false),
            emptied: Notify::new(),
        });
        let mut rx = store.subscribe();
        let weak: Weak<Hub> = Arc::downgrade(&hub);
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                match weak.upgrade() {
                    Some(h) => h.route(ev),
                    None => break,
                }
            }
        });
        hub
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// USER/STREAM changes go to the owner's subscriptions only; SHARED changes to every
    /// subscription on the table.
    fn route(&self, ev: Arc<ChangeEvent>) {
        let st = self.lock();
        let id: TableId = (ev.namespace.clone(), ev.table.clone());
        let Some(routes) = st.routes.get(&id) else {
            return;
        };
        for r in routes {
            let wanted = match ev.table_kind() {
                TableKind::User | TableKind::Stream => ev.owner.as_deref() == Some(r.user.as_str()),
                TableKind::Shared => true,
                TableKind::System => false,
            };
            if wanted && let Some(c) = st.conns.get(&r.conn) {
                if let Some(cap) = self.settings.notification_queue
                    && c.queued.load(Ordering::SeqCst) >= cap
                {
                    tracing::warn!(
                        "notification queue of socket {} full ({cap}): change on {}.{} dropped",
                        r.conn,
                        ev.namespace,
                        ev.table
                    );
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                c.queued.fetch_add(1, Ordering::SeqCst);
                let _ = c.tx.send(ConnEvent::Change(r.key, ev.clone()));
            }
        }
    }

    /// Registers a socket: its id, its event channel, and the counter of change
    /// notifications waiting in it (the socket decrements it for each one it takes).
    pub(crate) fn add_conn(&self) -> (u64, mpsc::UnboundedReceiver<ConnEvent>, Arc<AtomicUsize>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let mut st = self.lock();
        st.next += 1;
        let id = st.next;
        st.conns.insert(
            id,
            ConnTx {
                tx,
                queued: queued.clone(),
            },
        );
        (id, rx, queued)
    }

    /// Forgets a socket and all its subscriptions.
    pub(crate) fn remove_conn(&self, conn: u64) {
        let mut st = self.lock();
        st.conns.remove(&conn);
        st.drop_route(|r| r.conn == conn);
        if st.conns.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    /// Subscriptions `user` holds across all sockets.
    pub(crate) fn user_count(&self, user: &str) -> usize {
        self.lock().per_user.get(user).copied().unwrap_or(0)
    }

    /// Registers a subscription of `user` on socket `conn`; returns its key.
    pub(crate) fn add_route(&self, conn: u64, table: TableId, user: &str) -> u64 {
        let mut st = self.lock();
        st.next += 1;
        let key = st.next;
        st.routes.entry(table).or_default().push(Route {
            key,
            conn,
            user: user.to_owned(),
        });
        *st.per_user.entry(user.to_owned()).or_default() += 1;
        key
    }

    /// Removes one subscription.
    pub(crate) fn remove_route(&self, key: u64) {
        self.lock().drop_route(|r| r.key == key);
    }

    /// Whether shutdown has begun.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Closes every socket with 1001 `Server shutting down` and waits (up to a second) for the
    /// close frames to go out.
    pub(crate) async fn shutdown(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let emptied = self.emptied.notified();
        tokio::pin!(emptied);
        emptied.as_mut().enable();
        {
            let st = self.lock();
            if st.conns.is_empty() {
                return;
            }
            for c in st.conns.values() {
                let _ = c.tx.send(ConnEvent::Shutdown);
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), emptied).await;
    }
}

/// `app.t (id BIGINT PRIMARY KEY, title TEXT, n INT)`, a USER table for unit tests.
#[cfg(test)]
pub(crate) fn sample_table() -> kalam_schema::Table {
    use kalam_schema::{Column, SqlType};
    let mut id = Column::new("id", SqlType::BigInt, false);
    id.primary_key = true;
    kalam_schema::Table {
        namespace: "app".into(),
        name: "t".into(),
        kind: TableKind::User,
        columns: vec![
            id,
            Column::new("title", SqlType::Text, true),
            Column::new("n", SqlType::Int, true),
        ],
        options: Default::default(),
        comment: None,
    }
}

/// `GET /v1/ws`: upgrades and hands the socket to its task.
pub(crate) async fn upgrade(
    State(app): State<App>,
    ConnectInfo(meta): ConnectInfo<crate::net::ConnMeta>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if app.live.is_closing() {
        return crate::http::text(
            StatusCode::SERVICE_UNAVAILABLE,
            "Server is shutting down".into(),
        );
    }
    let params = conn::ConnParams::new(query.as_deref().unwrap_or(""), bearer(&headers));
    let peer = meta.peer.ip();
    ws.on_upgrade(move |socket| conn::serve(socket, app, params, peer))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let h = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    h.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}
