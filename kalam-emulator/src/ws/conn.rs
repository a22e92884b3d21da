//! One WebSocket connection: authentication, the message loop, subscriptions and the
//! heartbeat checks (protocol 3.2–3.10).

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt;
use serde_json::Value;
use tokio::time::{Instant, MissedTickBehavior};

use super::filter::LiveFilter;
use super::initial::{self, Fetch, LoadError};
use super::proto::{
    self, BatchControl, ClientMessage, Compression, ProtocolOptions, Serialization,
    SubscriptionRequest,
};
use super::query::{self, LiveSql, ProjItem};
use super::shape::{self, Columns};
use super::{ConnEvent, Hub, codec};
use crate::changes::ChangeEvent;
use crate::engine::provider::{Viewer, can_read_shared};
use crate::engine::schema::schema_json;
use crate::http::App;
use crate::rate::Window;
use crate::role::Role;
use kalam_schema::TableKind;

/// `MAX_ROWS_PER_BATCH`: the default `batch_size`.
const DEFAULT_BATCH_SIZE: usize = 1000;
/// Changes held per subscription until it is live; more are dropped, as on the server.
const MAX_PENDING: usize = 1024;
/// The close-frame reason limit.
const MAX_REASON: usize = 123;

/// What the upgrade request said.
#[derive(Debug, Clone)]
pub(crate) struct ConnParams {
    bearer: Option<String>,
    compress: bool,
    msgpack: bool,
    compression_none: bool,
}

impl ConnParams {
    /// Reads `compress=false`, `serialization=msgpack`, `compression=none` (exact `k=v`,
    /// case-insensitive) and the bearer token.
    pub(crate) fn new(query: &str, bearer: Option<String>) -> ConnParams {
        let has = |kv: &str| query.split('&').any(|p| p.eq_ignore_ascii_case(kv));
        ConnParams {
            bearer,
            compress: !has("compress=false"),
            msgpack: has("serialization=msgpack"),
            compression_none: has("compression=none"),
        }
    }
}

/// The authenticated identity of a socket.
#[derive(Debug, Clone)]
struct Session {
    user: String,
    role: Role,
    protocol: ProtocolOptions,
}

/// One subscription of this socket.
struct Sub {
    key: u64,
    query: Arc<LiveSql>,
    filter: LiveFilter,
    columns: Columns,
    /// `None` when the snapshot was empty (or no initial load).
    boundary: Option<i64>,
    initial: bool,
    system: bool,
    batch_size: usize,
    batch_num: u32,
    live: bool,
    pending: Vec<Arc<ChangeEvent>>,
}

struct Conn {
    app: App,
    hub: Arc<Hub>,
    id: u64,
    params: ConnParams,
    session: Option<Session>,
    subs: HashMap<String, Sub>,
    keys: HashMap<u64, String>,
    opened: Instant,
    last_activity: Instant,
    /// The client's IP (the authentication rate limit is per IP).
    peer: IpAddr,
    /// Client messages in the current rate-limit window.
    rate: Window,
}

type Flow = ControlFlow<()>;

/// Runs one socket until it closes.
pub(crate) async fn serve(mut socket: WebSocket, app: App, params: ConnParams, peer: IpAddr) {
    let hub = app.live.clone();
    let (id, mut rx, queued) = hub.add_conn();
    let now = Instant::now();
    let rate = app.limits.ws_window();
    let mut c = Conn {
        peer,
        rate,
        app,
        hub: hub.clone(),
        id,
        params,
        session: None,
        subs: HashMap::new(),
        keys: HashMap::new(),
        opened: now,
        last_activity: now,
    };
    let every = c.hub.settings.heartbeat_interval;
    let mut tick = tokio::time::interval_at(now + every, every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    if c.header_auth(&mut socket).await.is_continue() {
        loop {
            let flow = tokio::select! {
                m = socket.recv() => match m {
                    Some(Ok(m)) => {
                        c.last_activity = Instant::now();
                        c.on_frame(&mut socket, m).await
                    }
                    _ => Flow::Break(()),
                },
                ev = rx.recv() => match ev {
                    Some(ConnEvent::Change(key, ev)) => {
                        queued.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        c.on_change(&mut socket, key, ev).await
                    }
                    Some(ConnEvent::Shutdown) | None => {
                        c.close(&mut socket, 1001, "Server shutting down").await
                    }
                },
                _ = tick.tick() => c.on_tick(&mut socket).await,
            };
            if flow.is_break() {
                break;
            }
        }
    }
    hub.remove_conn(c.id);
}

fn truncate_reason(s: &str) -> String {
    if s.len() <= MAX_REASON {
        return s.to_owned();
    }
    let mut end = MAX_REASON;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

impl Conn {
    fn compress(&self) -> bool {
        self.params.compress && self.hub.settings.compression
    }

    fn msgpack(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.protocol.serialization == Serialization::Msgpack)
    }

    async fn send(&self, socket: &mut WebSocket, m: Message) -> Flow {
        match socket.send(m).await {
            Ok(()) => Flow::Continue(()),
            Err(_) => Flow::Break(()),
        }
    }

    /// `auth_success` / `auth_error`: always JSON text.
    async fn send_text(&self, socket: &mut WebSocket, v: &Value) -> Flow {
        self.send(socket, Message::Text(v.to_string().into())).await
    }

    /// `error` frames: JSON (gzip-binary when large), whatever was negotiated.
    async fn send_error(
        &self,
        socket: &mut WebSocket,
        sid: &str,
        code: &str,
        message: &str,
    ) -> Flow {
        let v = proto::error(sid, code, message);
        self.send(socket, codec::json_frame(&v, self.compress()))
            .await
    }

    /// `subscription_ack`, `initial_data_batch`, `change`: in the negotiated serialization.
    async fn send_data(&self, socket: &mut WebSocket, v: &Value) -> Flow {
        let m = if self.msgpack() {
            codec::msgpack_frame(v, self.compress())
        } else {
            codec::json_frame(v, self.compress())
        };
        self.send(socket, m).await
    }

    /// Sends a close frame, then waits briefly for the peer's answer so the frame is read
    /// before the TCP connection goes away.
    async fn close(&self, socket: &mut WebSocket, code: u16, reason: &str) -> Flow {
        let frame = CloseFrame {
            code,
            reason: truncate_reason(reason).into(),
        };
        if socket.send(Message::Close(Some(frame))).await.is_ok() {
            let drain = async { while let Some(Ok(_)) = socket.recv().await {} };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
        }
        Flow::Break(())
    }

    async fn auth_failed(&self, socket: &mut WebSocket) -> Flow {
        let _ = self
            .send_text(socket, &proto::auth_error("Invalid credentials"))
            .await;
        self.close(socket, 1008, "Authentication failed").await
    }

    async fn authenticate(
        &mut self,
        socket: &mut WebSocket,
        token: &str,
        protocol: ProtocolOptions,
    ) -> Flow {
        if !self.app.limits.auth.allow(&self.peer.to_string()) {
            let msg = proto::auth_error(crate::http::auth::AUTH_RATE_LIMITED);
            let _ = self.send_text(socket, &msg).await;
            return self.close(socket, 1008, "Authentication failed").await;
        }
        match self.app.check_access(token) {
            Ok((user, role)) => {
                let msg = proto::auth_success(&user, role.as_str(), protocol);
                self.session = Some(Session {
                    user,
                    role,
                    protocol,
                });
                self.send_text(socket, &msg).await
            }
            Err(_) => self.auth_failed(socket).await,
        }
    }

    /// Path A: the JWT came in the upgrade request.
    async fn header_auth(&mut self, socket: &mut WebSocket) -> Flow {
        let Some(token) = self.params.bearer.clone() else {
            return Flow::Continue(());
        };
        let protocol = ProtocolOptions {
            serialization: if self.params.msgpack {
                Serialization::Msgpack
            } else {
                Serialization::Json
            },
            compression: if self.params.compression_none {
                Compression::None
            } else {
                Compression::Gzip
            },
        };
        self.authenticate(socket, &token, protocol).await
    }

    async fn on_tick(&mut self, socket: &mut WebSocket) -> Flow {
        let s = &self.hub.settings;
        if self.session.is_none() && self.opened.elapsed() >= s.auth_timeout {
            let msg = proto::auth_error(
                "Authentication timeout - no auth message received within 3 seconds",
            );
            let _ = self.send_text(socket, &msg).await;
            return self.close(socket, 1008, "Authentication timeout").await;
        }
        if self.last_activity.elapsed() > s.client_timeout {
            return self.close(socket, 1000, "Heartbeat timeout").await;
        }
        Flow::Continue(())
    }

    async fn on_frame(&mut self, socket: &mut WebSocket, m: Message) -> Flow {
        if matches!(m, Message::Text(_) | Message::Binary(_)) && !self.rate.allow() {
            // Over the per-connection message rate: the message is dropped (protocol 3.3).
            return self
                .send_error(
                    socket,
                    "rate_limit",
                    "RATE_LIMIT_EXCEEDED",
                    "Rate limit exceeded: too many messages per second",
                )
                .await;
        }
        match m {
            Message::Text(t) => {
                if t.len() > self.hub.settings.max_message_size {
                    let msg = format!(
                        "Message too large: {} bytes (maximum {} bytes)",
                        t.len(),
                        self.hub.settings.max_message_size
                    );
                    return self
                        .send_error(socket, "protocol", "MESSAGE_TOO_LARGE", &msg)
                        .await;
                }
                match proto::parse_text(t.as_str()) {
                    Ok(msg) => self.on_message(socket, msg).await,
                    Err(e) => self.invalid(socket, &e).await,
                }
            }
            Message::Binary(b) => {
                if !self.msgpack() {
                    return self
                        .send_error(
                            socket,
                            "protocol",
                            "UNSUPPORTED_DATA",
                            "Binary not supported",
                        )
                        .await;
                }
                let decoded = if b.starts_with(&[0x1f, 0x8b]) {
                    codec::gunzip(&b).and_then(|raw| codec::decode_msgpack(&raw))
                } else {
                    codec::decode_msgpack(&b)
                };
                match decoded {
                    Ok(v) => match proto::parse_value(v) {
                        Ok(msg) => self.on_message(socket, msg).await,
                        Err(e) => self.invalid(socket, &e).await,
                    },
                    Err(e) => {
                        let msg = format!("Invalid MessagePack: {e}");
                        self.send_error(socket, "protocol", "UNSUPPORTED_DATA", &msg)
                            .await
                    }
                }
            }
            // Ping frames are answered by the WebSocket layer (same payload).
            Message::Ping(_) | Message::Pong(_) => Flow::Continue(()),
            Message::Close(_) => {
                // Subscriptions go first, then the queued close answer is flushed.
                self.hub.remove_conn(self.id);
                let _ = socket.flush().await;
                Flow::Break(())
            }
        }
    }

    async fn invalid(&self, socket: &mut WebSocket, err: &str) -> Flow {
        self.close(socket, 1011, &format!("Invalid message: {err}"))
            .await
    }

    async fn on_message(&mut self, socket: &mut WebSocket, msg: ClientMessage) -> Flow {
        match msg {
            ClientMessage::Authenticate {
                token, protocol, ..
            } => match &self.session {
                // Already authenticated: answered again, not re-validated.
                Some(s) => {
                    let v = proto::auth_success(&s.user, s.role.as_str(), s.protocol);
                    self.send_text(socket, &v).await
                }
                None => self.authenticate(socket, &token, protocol).await,
            },
            ClientMessage::Subscribe { subscription } => {
                if self.session.is_none() {
                    return self
                        .send_error(
                            socket,
                            "subscribe",
                            "AUTH_REQUIRED",
                            "Authentication required before subscribing",
                        )
                        .await;
                }
                self.subscribe(socket, subscription).await
            }
            _ if self.session.is_none() => Flow::Continue(()),
            ClientMessage::NextBatch {
                subscription_id,
                last_seq_id,
            } => self.next_batch(socket, &subscription_id, last_seq_id).await,
            ClientMessage::Unsubscribe { subscription_id } => {
                self.remove_sub(&subscription_id);
                Flow::Continue(())
            }
            ClientMessage::Ping => Flow::Continue(()),
        }
    }

    fn remove_sub(&mut self, id: &str) {
        if let Some(s) = self.subs.remove(id) {
            self.keys.remove(&s.key);
            self.hub.remove_route(s.key);
        }
    }

    fn viewer(&self) -> Option<Viewer> {
        self.session
            .as_ref()
            .map(|s| self.app.engine.reader(s.user.clone(), s.role))
    }

    /// Protocol 3.6 steps 1–5: the checks before anything is registered. Returns the error
    /// frame's `(subscription_id, code, message)` on failure.
    fn precheck(
        &self,
        req: &SubscriptionRequest,
        s: &Session,
    ) -> Result<LiveSql, (String, &'static str, String)> {
        let id = req.id.clone();
        if req.id.trim().is_empty() {
            return Err((
                "invalid_subscription".into(),
                "INVALID_SUBSCRIPTION_ID",
                "Subscription ID cannot be empty".into(),
            ));
        }
        let settings = &self.hub.settings;
        let replacing = usize::from(self.subs.contains_key(&req.id));
        if self.hub.user_count(&s.user).saturating_sub(replacing)
            >= settings.max_subscriptions_per_user
        {
            return Err((
                id,
                "SUBSCRIPTION_LIMIT_EXCEEDED",
                "Maximum subscriptions reached".into(),
            ));
        }
        let per_conn = settings.max_subscriptions_per_connection;
        if self.subs.len().saturating_sub(replacing) >= per_conn {
            return Err((
                id,
                "UNSUPPORTED",
                format!(
                    "Invalid operation: Maximum subscriptions ({per_conn}) per connection exceeded"
                ),
            ));
        }
        if let Some(o) = &req.options {
            let bs = o.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
            if let Some(lr) = o.last_rows.filter(|lr| *lr as usize > bs) {
                return Err((
                    id,
                    "UNSUPPORTED",
                    format!(
                        "last_rows ({lr}) cannot exceed batch_size ({bs}); paginated last_rows replay is not supported"
                    ),
                ));
            }
        }
        let q = query::parse(&req.sql, &s.user).map_err(|e| (id.clone(), "INVALID_SQL", e.0))?;
        if !settings.projection_quirks
            && q.projection
                .as_ref()
                .is_some_and(|p| p.iter().any(|i| !matches!(i, ProjItem::Column(_))))
        {
            return Err((
                id,
                "INVALID_SQL",
                "Invalid SQL: Invalid SQL: Subscription query supports only bare columns or * in the projection (emulator with projection quirks off)".into(),
            ));
        }
        if q.namespace == "system" && !s.role.is_admin() {
            return Err((
                id,
                "UNAUTHORIZED",
                format!(
                    "Permission denied: Cannot subscribe to system table 'system:{}': insufficient privileges. Only DBA and system roles can subscribe to system tables.",
                    q.table
                ),
            ));
        }
        let st = self.app.engine.store.read();
        let Some(def) = st.catalog.table(&q.namespace, &q.table) else {
            return Err((
                id,
                "NOT_FOUND",
                format!("Not found: Table not found: {}:{}", q.namespace, q.table),
            ));
        };
        if def.kind == TableKind::Shared {
            let level = def.options.access_level.unwrap_or_default();
            if !can_read_shared(s.role, level) {
                return Err((
                    id,
                    "UNAUTHORIZED",
                    format!(
                        "Permission denied: Insufficient privileges to subscribe to shared table '{}:{}' (access_level={level:?})",
                        q.namespace, q.table
                    ),
                ));
            }
        }
        Ok(q)
    }

    /// The ack `schema`: every table column for `*`, else the bare projected columns in SELECT
    /// order (no `_seq`, no expressions).
    fn ack_schema(&self, q: &LiveSql, planned: &datafusion::arrow::datatypes::Schema) -> Value {
        let st = self.app.engine.store.read();
        let table_schema = st
            .tables
            .get(&(q.namespace.clone(), q.table.clone()))
            .map(|ts| ts.schema.clone());
        let text = match (table_schema, q.bare_columns()) {
            (Some(ts), None) => schema_json(&ts),
            (Some(ts), Some(cols)) => {
                let fields: Vec<_> = cols
                    .iter()
                    .filter_map(|c| ts.field_with_name(c).ok().cloned())
                    .collect();
                schema_json(&datafusion::arrow::datatypes::Schema::new(fields))
            }
            (None, _) => schema_json(planned),
        };
        serde_json::from_str(&text).unwrap_or(Value::Array(Vec::new()))
    }

    async fn subscribe(&mut self, socket: &mut WebSocket, req: SubscriptionRequest) -> Flow {
        let (Some(session), Some(viewer)) = (self.session.clone(), self.viewer()) else {
            return Flow::Continue(());
        };
        let q = match self.precheck(&req, &session) {
            Ok(q) => Arc::new(q),
            Err((sid, code, msg)) => return self.send_error(socket, &sid, code, &msg).await,
        };
        let engine = self.app.engine.clone();
        let planned = match initial::validate(&engine, &viewer, &q).await {
            Ok(s) => s,
            Err(e) => return self.send_error(socket, &req.id, e.code, &e.message).await,
        };
        let schema = self.ack_schema(&q, &planned);
        let system = q.namespace == "system";
        let key = self.hub.add_route(
            self.id,
            (q.namespace.clone(), q.table.clone()),
            &session.user,
        );
        self.remove_sub(&req.id);
        self.keys.insert(key, req.id.clone());
        let columns = match q.bare_columns() {
            None => Columns::All,
            Some(c) => Columns::Only(c),
        };
        let opts = req.options.clone();
        self.subs.insert(
            req.id.clone(),
            Sub {
                key,
                query: q.clone(),
                filter: LiveFilter::new(q.live_filter.clone()),
                columns,
                boundary: None,
                initial: opts.is_some(),
                system,
                batch_size: opts
                    .as_ref()
                    .and_then(|o| o.batch_size)
                    .unwrap_or(DEFAULT_BATCH_SIZE),
                batch_num: 0,
                live: opts.is_none(),
                pending: Vec::new(),
            },
        );
        let Some(o) = opts else {
            let ack = proto::ack(&req.id, BatchControl::READY_EMPTY, schema);
            return self.send_data(socket, &ack).await;
        };
        match self.first_batch(&engine, &viewer, &q, &o, system).await {
            Ok((boundary, fetched)) => {
                let bc = BatchControl {
                    batch_num: 0,
                    has_more: fetched.has_more,
                    last_seq_id: fetched.last_seq_id,
                };
                if let Some(sub) = self.subs.get_mut(&req.id) {
                    sub.boundary = boundary;
                }
                if self
                    .send_data(socket, &proto::ack(&req.id, bc, schema))
                    .await
                    .is_break()
                {
                    return Flow::Break(());
                }
                let batch = proto::batch(&req.id, fetched.rows, bc);
                if self.send_data(socket, &batch).await.is_break() {
                    return Flow::Break(());
                }
                if !fetched.has_more {
                    return self.go_live(socket, &req.id).await;
                }
                Flow::Continue(())
            }
            Err(e) => {
                self.remove_sub(&req.id);
                self.send_error(socket, &req.id, e.code, &e.message).await
            }
        }
    }

    async fn first_batch(
        &self,
        engine: &crate::engine::Engine,
        viewer: &Viewer,
        q: &LiveSql,
        o: &proto::SubscriptionOptions,
        system: bool,
    ) -> Result<(Option<i64>, initial::Fetched), LoadError> {
        if self.hub.settings.projection_quirks
            && let Some(alias) = q.first_alias()
        {
            return Err(initial::alias_error(engine, viewer, q, alias).await);
        }
        if system {
            return Ok((None, initial::fetch_system(engine, viewer, q).await?));
        }
        let boundary = initial::boundary(engine, viewer, q).await?;
        let size = o.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        let what = match (o.from, o.last_rows) {
            (Some(from), _) => Fetch::Batch {
                cursor: Some(from),
                size,
            },
            (None, Some(n)) => Fetch::Last(n as usize),
            (None, None) => Fetch::Batch { cursor: None, size },
        };
        Ok((
            boundary,
            initial::fetch(engine, viewer, q, boundary, what).await?,
        ))
    }

    async fn next_batch(&mut self, socket: &mut WebSocket, id: &str, cursor: Option<i64>) -> Flow {
        let Some(viewer) = self.viewer() else {
            return Flow::Continue(());
        };
        let Some(sub) = self.subs.get(id) else {
            let msg = format!("Not found: Subscription not found: {id}");
            return self
                .send_error(socket, id, "BATCH_FETCH_FAILED", &msg)
                .await;
        };
        if !sub.initial {
            let msg = format!(
                "Invalid operation: Subscription {id} was created without initial data loading"
            );
            return self
                .send_error(socket, id, "BATCH_FETCH_FAILED", &msg)
                .await;
        }
        let (q, boundary, size, num, system) = (
            sub.query.clone(),
            sub.boundary,
            sub.batch_size,
            sub.batch_num + 1,
            sub.system,
        );
        let engine = self.app.engine.clone();
        let fetched = if system {
            initial::fetch_system(&engine, &viewer, &q).await
        } else {
            initial::fetch(
                &engine,
                &viewer,
                &q,
                boundary,
                Fetch::Batch { cursor, size },
            )
            .await
        };
        let fetched = match fetched {
            Ok(f) => f,
            Err(e) => {
                return self
                    .send_error(socket, id, "BATCH_FETCH_FAILED", &e.message)
                    .await;
            }
        };
        let bc = BatchControl {
            batch_num: num,
            has_more: fetched.has_more,
            last_seq_id: fetched.last_seq_id,
        };
        if let Some(sub) = self.subs.get_mut(id) {
            sub.batch_num = num;
        }
        if self
            .send_data(socket, &proto::batch(id, fetched.rows, bc))
            .await
            .is_break()
        {
            return Flow::Break(());
        }
        if !fetched.has_more {
            return self.go_live(socket, id).await;
        }
        Flow::Continue(())
    }

    /// The subscription becomes live: changes held meanwhile are delivered in order.
    async fn go_live(&mut self, socket: &mut WebSocket, id: &str) -> Flow {
        let pending = match self.subs.get_mut(id) {
            Some(sub) if !sub.live => {
                sub.live = true;
                std::mem::take(&mut sub.pending)
            }
            _ => return Flow::Continue(()),
        };
        for ev in pending {
            if self.deliver(socket, id, &ev).await.is_break() {
                return Flow::Break(());
            }
        }
        Flow::Continue(())
    }

    async fn on_change(&mut self, socket: &mut WebSocket, key: u64, ev: Arc<ChangeEvent>) -> Flow {
        let Some(id) = self.keys.get(&key).cloned() else {
            return Flow::Continue(());
        };
        let Some(sub) = self.subs.get_mut(&id) else {
            return Flow::Continue(());
        };
        let seq = ev.new.as_ref().map_or(0, |r| r.seq);
        if sub.boundary.is_some_and(|b| seq <= b) {
            return Flow::Continue(());
        }
        if !sub.live {
            if sub.pending.len() < MAX_PENDING {
                sub.pending.push(ev);
            }
            return Flow::Continue(());
        }
        self.deliver(socket, &id, &ev).await
    }

    async fn deliver(&self, socket: &mut WebSocket, id: &str, ev: &ChangeEvent) -> Flow {
        let Some(sub) = self.subs.get(id) else {
            return Flow::Continue(());
        };
        let Some(new) = ev.new.as_deref() else {
            return Flow::Continue(());
        };
        if !sub.filter.matches(&ev.table_def, new) {
            return Flow::Continue(());
        }
        match shape::change_frame(id, ev, &sub.columns) {
            Some(frame) => self.send_data(socket, &frame).await,
            None => Flow::Continue(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_and_reason() {
        let p = ConnParams::new("compress=FALSE&serialization=msgpack", None);
        assert!(!p.compress && p.msgpack && !p.compression_none);
        let p = ConnParams::new("compression=none", Some("t".into()));
        assert!(p.compress && p.compression_none);
        let long = "é".repeat(100);
        let r = truncate_reason(&long);
        assert!(r.len() <= MAX_REASON && long.starts_with(&r));
    }
}
