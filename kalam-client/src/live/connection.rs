//! The shared WebSocket: one per client, opened lazily, owned by a task that multiplexes
//! subscriptions by id.
//!
//! The socket is tied to a client through a small registry keyed by the client's shared
//! state (compared through a `Weak`, so a freed client's slot is never reused by mistake).
//! Subscriptions hold an `Arc<Connection>`; when the last one is dropped the command channel
//! closes and the task closes the socket. A socket that failed is replaced on the next
//! subscribe.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::state::{ConnectionState, StateTx};
use crate::client::{Inner, KalamClient};
use crate::error::{Error, ErrorCode, Result};
use crate::transport::{self, Message, Socket, ws_error};

/// Default keepalive period: a Ping frame and a `{"type":"ping"}` message (protocol 3.10:
/// ≤ 10 s).
pub(crate) const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(8);
/// How long to wait for `auth_success` after the upgrade (the SDK's `auth_timeout`).
const AUTH_TIMEOUT: Duration = Duration::from_secs(5);

/// What a subscription receives from the connection task.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A server frame addressed to this subscription.
    Frame(Box<ServerFrame>),
    /// The socket was lost; the task is reconnecting.
    Disconnected(String),
    /// A new socket is up and the subscription was sent again, resuming after `from`.
    Resumed(Option<i64>),
    /// The task ended; no more frames will come.
    Closed(String),
}

/// A decoded server frame (the fields of every message type, most optional).
#[derive(Debug, Deserialize)]
pub(crate) struct ServerFrame {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) subscription_id: Option<String>,
    #[serde(default)]
    pub(crate) change_type: Option<String>,
    #[serde(default)]
    pub(crate) rows: Option<Vec<super::Cells>>,
    #[serde(default)]
    pub(crate) old_values: Option<Vec<super::Cells>>,
    #[serde(default)]
    pub(crate) batch_control: Option<super::BatchControl>,
    #[serde(default)]
    pub(crate) schema: Option<Vec<crate::wire::SchemaField>>,
    #[serde(default)]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

/// Commands from subscriptions to the task. Each becomes exactly one known client message.
#[derive(Debug)]
pub(crate) enum Command {
    Subscribe {
        id: String,
        sql: String,
        options: Option<serde_json::Value>,
        events: mpsc::UnboundedSender<Incoming>,
        /// The subscriber reloads its rows itself after a reconnect: resubscribe with the
        /// original options instead of resuming from the last `_seq`.
        resync: bool,
    },
    NextBatch {
        id: String,
        last_seq_id: Option<i64>,
    },
    Unsubscribe {
        id: String,
    },
}

/// Handle to a running connection task.
#[derive(Debug)]
pub(crate) struct Connection {
    commands: mpsc::UnboundedSender<Command>,
}

impl Connection {
    /// Queues a command; false when the task has ended.
    pub(crate) fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }

    fn is_alive(&self) -> bool {
        !self.commands.is_closed()
    }
}

/// A client's connection slot and its observable state.
#[derive(Debug, Default)]
pub(crate) struct SlotState {
    conn: tokio::sync::Mutex<Weak<Connection>>,
    state: Arc<StateTx>,
}

type Slot = Arc<SlotState>;
type Registry = Mutex<Vec<(Weak<Inner>, Slot)>>;

/// client state → its connection slot.
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Vec::new()))
}

fn slot_for(client: &KalamClient) -> Slot {
    let mut entries = match registry().lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    entries.retain(|(owner, _)| owner.strong_count() > 0);
    if let Some((_, slot)) = entries
        .iter()
        .find(|(owner, _)| std::ptr::eq(owner.as_ptr(), Arc::as_ptr(&client.inner)))
    {
        return Arc::clone(slot);
    }
    let slot: Slot = Arc::default();
    entries.push((Arc::downgrade(&client.inner), Arc::clone(&slot)));
    slot
}

/// Where the client's connection reports its state.
pub(crate) fn state_of(client: &KalamClient) -> Arc<StateTx> {
    Arc::clone(&slot_for(client).state)
}

/// The client's live connection, opening (and authenticating) it when there is none.
pub(crate) async fn shared(client: &KalamClient) -> Result<Arc<Connection>> {
    let slot = slot_for(client);
    let mut current = slot.conn.lock().await;
    if let Some(conn) = current.upgrade().filter(|c| c.is_alive()) {
        return Ok(conn);
    }
    slot.state.set(ConnectionState::Connecting);
    let conn = match open(client, Arc::clone(&slot.state)).await {
        Ok(conn) => Arc::new(conn),
        Err(e) => {
            slot.state.set(ConnectionState::Disconnected {
                reason: e.to_string(),
            });
            return Err(e);
        }
    };
    slot.state.set(ConnectionState::Connected);
    *current = Arc::downgrade(&conn);
    Ok(conn)
}

async fn open(client: &KalamClient, state: Arc<StateTx>) -> Result<Connection> {
    let socket = open_socket(client).await?;
    let (commands, rx) = mpsc::unbounded_channel();
    transport::spawn(run(client.clone(), socket, rx, state));
    Ok(Connection { commands })
}

/// Opens a socket and waits for `auth_success`.
async fn open_socket(client: &KalamClient) -> Result<Socket> {
    let inner = &client.inner;
    // The node first (with several nodes, an unreachable one is skipped), then its token.
    let base = inner.live_base().await;
    let token = inner
        .auth
        .bearer(&inner.http())
        .await?
        .ok_or_else(|| Error::Auth {
            code: ErrorCode::parse("AUTH_REQUIRED"),
            message: "live queries need credentials (the WebSocket accepts only JWTs)".to_owned(),
        })?;
    #[cfg(not(target_arch = "wasm32"))]
    let connect = upgrade(inner, &base, &token);
    #[cfg(target_arch = "wasm32")]
    let connect = transport::connect(ws_http_url(&base)?, token.expose());
    let mut socket = transport::timeout(inner.connect_timeout, connect)
        .await
        .map_err(|_| Error::Timeout {
            operation: "the WebSocket connection".to_owned(),
            after: inner.connect_timeout,
        })??;
    // Natively the token goes in the upgrade's header and the server pushes `auth_success` (or
    // `auth_error`) unprompted (3.2 A); a page sends it as its first message (3.2 B).
    let first = transport::timeout(AUTH_TIMEOUT, socket.next())
        .await
        .map_err(|_| Error::Timeout {
            operation: "auth_success".to_owned(),
            after: AUTH_TIMEOUT,
        })?;
    let frame = match first {
        Some(Ok(message)) => decode_message(message, inner.max_response_size)?,
        Some(Err(e)) => return Err(ws_error("read", e)),
        None => None,
    };
    match frame {
        Some(f) if f.kind == "auth_success" => {}
        Some(f) if f.kind == "auth_error" => {
            return Err(Error::Auth {
                code: ErrorCode::parse("AUTH_ERROR"),
                message: f.message.unwrap_or_default(),
            });
        }
        other => {
            return Err(Error::Protocol(format!(
                "expected auth_success as the first WebSocket frame, got {:?}",
                other.map(|f| f.kind)
            )));
        }
    }
    Ok(socket)
}

/// The WebSocket upgrade (RFC 6455 section 4), made by the client's own HTTP stack rather
/// than by tungstenite's handshake: tungstenite logs the whole upgrade request at TRACE level
/// (through the `log` crate), `Authorization` header included, and the bearer token must never
/// reach a log. The HTTP connection also gets the client's TLS settings this way.
#[cfg(not(target_arch = "wasm32"))]
async fn upgrade(inner: &Inner, base: &str, token: &crate::auth::Secret) -> Result<Socket> {
    use reqwest::header;
    use tokio_tungstenite::tungstenite::handshake::{client::generate_key, derive_accept_key};
    let key = generate_key();
    let response = inner
        .ws_http
        .get(ws_http_url(base)?)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, &key)
        .bearer_auth(token.expose())
        .send()
        .await
        .map_err(|e| inner.transport_error("the WebSocket upgrade", e))?;
    let status = response.status().as_u16();
    if status != 101 {
        let body = crate::client::read_body(response, 64 * 1024, "the WebSocket upgrade answer")
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        return Err(match crate::wire::error_from_body(status, &body) {
            err @ (Error::Auth { .. } | Error::Sql { .. }) => err,
            _ => ws_error(
                "connect",
                format!("the server answered HTTP {status} to the upgrade"),
            ),
        });
    }
    let accept = response
        .headers()
        .get(header::SEC_WEBSOCKET_ACCEPT)
        .and_then(|v| v.to_str().ok());
    if accept != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Err(ws_error(
            "connect",
            "wrong Sec-WebSocket-Accept in the upgrade answer",
        ));
    }
    let upgraded = response
        .upgrade()
        .await
        .map_err(|e| ws_error("connect", e))?;
    // Frames and messages (and inflated binary frames, in `decode_message`) are bounded by
    // the client's `max_response_size`.
    let limit = usize::try_from(inner.max_response_size).unwrap_or(usize::MAX);
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    Ok(tokio_tungstenite::WebSocketStream::from_raw_socket(
        upgraded,
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        Some(config),
    )
    .await)
}

/// `http(s)://host:port/v1/ws`: the upgrade request's URL (the path is replaced, 3.1).
fn ws_http_url(base: &str) -> Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(base)
        .map_err(|e| Error::Config(format!("invalid base_url `{base}`: {e}")))?;
    url.set_path("/v1/ws");
    url.set_query(None);
    Ok(url)
}

/// Parses one WebSocket message: text is JSON, binary is gzip'd JSON (3.3), inflated to at
/// most `limit` bytes. `None` for control frames.
pub(crate) fn decode_message(message: Message, limit: u64) -> Result<Option<ServerFrame>> {
    let parsed = match message {
        Message::Text(text) => serde_json::from_str(text.as_str()),
        Message::Binary(bytes) => {
            let mut json = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .take(limit.saturating_add(1))
                .read_to_end(&mut json)
                .map_err(|e| ws_error("gzip frame", e))?;
            if u64::try_from(json.len()).unwrap_or(u64::MAX) > limit {
                return Err(Error::TooLarge {
                    what: "an inflated WebSocket frame".to_owned(),
                    limit,
                });
            }
            serde_json::from_slice(&json)
        }
        _ => return Ok(None),
    };
    parsed
        .map(Some)
        .map_err(|e| Error::Protocol(format!("malformed WebSocket frame: {e}")))
}

fn subscribe_message(id: &str, sql: &str, options: Option<&serde_json::Value>) -> String {
    serde_json::json!({
        "type": "subscribe",
        "subscription": {"id": id, "sql": sql, "options": options},
    })
    .to_string()
}

fn client_message(command: &Command) -> String {
    let value = match command {
        Command::Subscribe {
            id, sql, options, ..
        } => return subscribe_message(id, sql, options.as_ref()),
        Command::NextBatch { id, last_seq_id } => serde_json::json!({
            "type": "next_batch", "subscription_id": id, "last_seq_id": last_seq_id,
        }),
        Command::Unsubscribe { id } => {
            serde_json::json!({"type": "unsubscribe", "subscription_id": id})
        }
    };
    value.to_string()
}

/// What the task remembers about a subscription, to route frames and to resubscribe.
struct Sub {
    sql: String,
    options: Option<serde_json::Value>,
    events: mpsc::UnboundedSender<Incoming>,
    /// Largest `_seq` forwarded: the resume point.
    applied: Option<i64>,
    /// Rows at or below this `_seq` are replays after a resume and are dropped.
    floor: Option<i64>,
    /// Resubscribe with the original options (the subscriber reloads its rows itself).
    resync: bool,
}

impl Sub {
    /// The `options` to resubscribe with: the original ones, resuming after `applied`.
    fn resume_options(&self) -> Option<serde_json::Value> {
        if self.resync {
            return self.options.clone();
        }
        let Some(from) = self.applied else {
            return self.options.clone();
        };
        let mut map = match &self.options {
            Some(serde_json::Value::Object(map)) => map.clone(),
            _ => serde_json::Map::new(),
        };
        map.remove("last_rows");
        map.insert("from".to_owned(), from.into());
        Some(serde_json::Value::Object(map))
    }

    /// Drops replayed rows, advances the resume point; false when nothing is left to deliver.
    fn accept(&mut self, frame: &mut ServerFrame) -> bool {
        let floor = self.floor;
        let mut had_rows = false;
        let mut max = self.applied;
        for rows in [&mut frame.rows, &mut frame.old_values]
            .into_iter()
            .flatten()
        {
            had_rows |= !rows.is_empty();
            rows.retain(|row| match (super::seq_of(row), floor) {
                (Some(seq), Some(floor)) => seq > floor,
                _ => true,
            });
            for seq in rows.iter().filter_map(super::seq_of) {
                max = Some(max.map_or(seq, |m| m.max(seq)));
            }
        }
        self.applied = max;
        let empty = frame.rows.as_ref().is_none_or(Vec::is_empty)
            && frame.old_values.as_ref().is_none_or(Vec::is_empty);
        !(frame.kind == "change" && had_rows && empty)
    }
}

/// Routes a frame to its subscription: exact id, else a unique suffix match (3.11).
fn route<'a>(subs: &'a mut HashMap<String, Sub>, id: &str) -> Option<&'a mut Sub> {
    if subs.contains_key(id) {
        return subs.get_mut(id);
    }
    let mut hits = subs.iter_mut().filter(|(k, _)| id.ends_with(k.as_str()));
    match (hits.next(), hits.next()) {
        (Some((_, sub)), None) => Some(sub),
        _ => None,
    }
}

enum Ended {
    /// Every handle is gone.
    Unused,
    /// The socket failed.
    Lost(String),
}

/// Serves one socket until it fails or nobody uses the connection any more.
///
/// Every `keepalive` the task pings the server; when nothing at all (not even the Pong) has
/// arrived since the previous ping, the socket is half-open (the server or the path to it
/// vanished without closing it) and is given up. A page cannot send Ping frames and the
/// server answers no JSON ping, so there the browser's own socket errors are relied on.
async fn serve(
    socket: &mut Socket,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    subs: &mut HashMap<String, Sub>,
    inner: &Inner,
) -> Ended {
    let (period, limit) = (inner.live_keepalive, inner.max_response_size);
    let mut keepalive = transport::Interval::new(period);
    let mut heard = true;
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { return Ended::Unused };
                let text = client_message(&command);
                match command {
                    Command::Subscribe { id, sql, options, events, resync } => {
                        let sub = Sub { sql, options, events, applied: None, floor: None, resync };
                        subs.insert(id, sub);
                    }
                    Command::Unsubscribe { id } => { subs.remove(&id); }
                    Command::NextBatch { .. } => {}
                }
                if let Err(e) = socket.send(Message::text(text)).await {
                    return Ended::Lost(format!("send failed: {e}"));
                }
            }
            message = socket.next() => {
                heard = true;
                let message = match message {
                    Some(Ok(Message::Close(frame))) => {
                        return Ended::Lost(format!("server closed the connection: {frame:?}"));
                    }
                    Some(Ok(m)) => m,
                    Some(Err(e)) => return Ended::Lost(format!("read failed: {e}")),
                    None => return Ended::Lost("connection closed".to_owned()),
                };
                match decode_message(message, limit) {
                    Ok(Some(mut frame)) => {
                        let id = frame.subscription_id.clone().unwrap_or_default();
                        if let Some(sub) = route(subs, &id) {
                            if sub.accept(&mut frame) {
                                // A dropped subscription unsubscribes itself; ignore the race.
                                let _ = sub.events.send(Incoming::Frame(Box::new(frame)));
                            }
                        } else {
                            tracing::debug!(kind = %frame.kind, id, "live frame for no subscription");
                        }
                    }
                    Ok(None) => {}
                    // A frame that cannot be read may be a change: skipping it would leave the
                    // live sets short. Reconnect; the subscriptions resume after what they
                    // applied.
                    Err(e) => return Ended::Lost(format!("unreadable frame: {e}")),
                }
            }
            _ = keepalive.tick() => {
                if !heard && transport::PONGS {
                    return Ended::Lost(format!(
                        "no answer to the keepalive ping within {period:?} (half-open connection)"
                    ));
                }
                heard = false;
                let pings = async {
                    socket.send(Message::Ping(Vec::new().into())).await?;
                    socket.send(Message::text(r#"{"type":"ping"}"#)).await
                };
                match transport::timeout(period, pings).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Ended::Lost(format!("keepalive failed: {e}")),
                    Err(_) => return Ended::Lost(format!(
                        "keepalive ping not sent within {period:?} (half-open connection)"
                    )),
                }
            }
        }
    }
}

/// Reconnect delay: 1 s × 2^attempt, at most 30 s, plus up to 25 % random jitter.
fn backoff(attempt: u32) -> Duration {
    let base = RECONNECT_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(RECONNECT_MAX);
    let jitter_ms = rand::random_range(0..=base.as_millis() / 4);
    base + Duration::from_millis(u64::try_from(jitter_ms).unwrap_or(0))
}

/// First reconnect delay.
const RECONNECT_BASE: Duration = Duration::from_millis(1000);
/// Longest reconnect delay.
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// Opens a new socket, with backoff, while anybody still listens.
async fn reconnect(
    client: &KalamClient,
    commands: &mpsc::UnboundedReceiver<Command>,
    subs: &mut HashMap<String, Sub>,
    state: &StateTx,
) -> Option<Socket> {
    let mut attempt = 0;
    loop {
        subs.retain(|_, sub| !sub.events.is_closed());
        if commands.is_closed() && subs.is_empty() {
            return None;
        }
        // The first retry is immediate: a dropped socket often reconnects at once.
        let delay = if attempt > 0 {
            backoff(attempt - 1)
        } else {
            Duration::ZERO
        };
        state.set(ConnectionState::Reconnecting {
            attempt: attempt + 1,
            delay,
        });
        if attempt > 0 {
            transport::sleep(delay).await;
        }
        match open_socket(client).await {
            Ok(socket) => return Some(socket),
            Err(e) => tracing::debug!(attempt, "live reconnect failed: {e}"),
        }
        attempt += 1;
    }
}

async fn run(
    client: KalamClient,
    mut socket: Socket,
    mut commands: mpsc::UnboundedReceiver<Command>,
    state: Arc<StateTx>,
) {
    let mut subs: HashMap<String, Sub> = HashMap::new();
    let reason = loop {
        let reason = match serve(&mut socket, &mut commands, &mut subs, &client.inner).await {
            Ended::Unused => break "client dropped".to_owned(),
            Ended::Lost(reason) => reason,
        };
        tracing::debug!(%reason, "live connection lost, reconnecting");
        state.set(ConnectionState::Disconnected {
            reason: reason.clone(),
        });
        for sub in subs.values() {
            let _ = sub.events.send(Incoming::Disconnected(reason.clone()));
        }
        let Some(new_socket) = reconnect(&client, &commands, &mut subs, &state).await else {
            state.set(ConnectionState::Idle);
            return;
        };
        socket = new_socket;
        state.set(ConnectionState::Connected);
        let mut resent = Ok(());
        for (id, sub) in &mut subs {
            let options = sub.resume_options();
            sub.floor = if sub.resync { None } else { sub.applied };
            let _ = sub.events.send(Incoming::Resumed(sub.applied));
            let text = subscribe_message(id, &sub.sql, options.as_ref());
            resent = resent.and(socket.send(Message::text(text)).await);
        }
        match resent {
            Ok(()) => state.set(ConnectionState::Resubscribed {
                subscriptions: subs.len(),
            }),
            Err(e) => tracing::debug!("resubscribe failed: {e}"),
        }
    };
    tracing::debug!(%reason, "live connection ended");
    for sub in subs.values() {
        let _ = sub.events.send(Incoming::Closed(reason.clone()));
    }
    transport::close(&mut socket).await;
    state.set(ConnectionState::Idle);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_replaces_scheme_and_path() {
        assert_eq!(
            ws_http_url("http://h:1/prefix").unwrap().as_str(),
            "http://h:1/v1/ws"
        );
        assert_eq!(
            ws_http_url("https://h").unwrap().as_str(),
            "https://h/v1/ws"
        );
    }

    #[test]
    fn binary_frames_are_inflated() {
        use std::io::Write;
        let json = format!(
            r#"{{"type":"initial_data_batch","subscription_id":"s","rows":[{{"t":"{}"}}]}}"#,
            "x".repeat(600)
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(json.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        assert!(bytes.len() < json.len());
        let frame = decode_message(Message::Binary(bytes.clone().into()), 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(frame.kind, "initial_data_batch");
        assert_eq!(frame.rows.unwrap()[0].get("t").unwrap().get().len(), 602);
        assert!(decode_message(Message::Binary(vec![1, 2, 3].into()), 1 << 20).is_err());
        assert!(
            decode_message(Message::Ping(Vec::new().into()), 1 << 20)
                .unwrap()
                .is_none()
        );
        // Inflated beyond the limit: refused, not truncated.
        assert!(matches!(
            decode_message(Message::Binary(bytes.into()), 100),
            Err(Error::TooLarge { limit: 100, .. })
        ));
    }

    #[test]
    fn resumed_subscriptions_drop_replayed_rows() {
        let (events, _rx) = mpsc::unbounded_channel();
        let mut sub = Sub {
            sql: "SELECT * FROM a.b".into(),
            options: Some(serde_json::json!({"batch_size": 5, "last_rows": 2})),
            events,
            applied: Some(10),
            floor: Some(10),
            resync: false,
        };
        assert_eq!(
            sub.resume_options(),
            Some(serde_json::json!({"batch_size": 5, "from": 10}))
        );
        let frame = |json: &str| -> ServerFrame { serde_json::from_str(json).unwrap() };
        let mut old = frame(r#"{"type":"change","change_type":"insert","rows":[{"_seq":"9"}]}"#);
        assert!(!sub.accept(&mut old));
        let mut batch = frame(
            r#"{"type":"initial_data_batch","rows":[{"_seq":"10"},{"_seq":"12"},{"id":"1"}]}"#,
        );
        assert!(sub.accept(&mut batch));
        assert_eq!(batch.rows.unwrap().len(), 2);
        assert_eq!(sub.applied, Some(12));
    }

    #[test]
    fn client_messages_have_known_types() {
        let text = client_message(&Command::NextBatch {
            id: "s".into(),
            last_seq_id: Some(7),
        });
        assert_eq!(
            text,
            r#"{"last_seq_id":7,"subscription_id":"s","type":"next_batch"}"#
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            crate::proptest_config(128)
        }

        fn gzip(bytes: &[u8]) -> Vec<u8> {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(bytes).unwrap();
            gz.finish().unwrap()
        }

        proptest! {
            #![proptest_config(config())]

            /// Any text or binary message, and any gzip'd bytes: a frame or an error, never a
            /// panic, and never more than the limit inflated.
            #[test]
            fn arbitrary_messages_never_panic(text in any::<String>(), bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                let _ = decode_message(Message::text(text.clone()), 1 << 16);
                let _ = decode_message(Message::Binary(bytes.clone().into()), 1 << 16);
                let _ = decode_message(Message::Binary(gzip(&bytes).into()), 1 << 16);
                let _ = decode_message(Message::Binary(gzip(text.as_bytes()).into()), 16);
            }

            /// A change frame, as text or gzip'd, decodes with its id and rows intact.
            #[test]
            fn change_frames_round_trip(
                id in "[a-z0-9_]{1,16}",
                ids in prop::collection::vec(any::<i64>(), 0..10),
                compress in any::<bool>(),
            ) {
                let rows: Vec<String> = ids.iter().map(|i| format!(r#"{{"id":"{i}","_seq":"1"}}"#)).collect();
                let json = format!(
                    r#"{{"type":"change","subscription_id":"{id}","change_type":"insert","rows":[{}]}}"#,
                    rows.join(",")
                );
                let message = if compress {
                    Message::Binary(gzip(json.as_bytes()).into())
                } else {
                    Message::text(json)
                };
                let frame = decode_message(message, 1 << 20).unwrap().unwrap();
                prop_assert_eq!(frame.kind.as_str(), "change");
                prop_assert_eq!(frame.subscription_id.as_deref(), Some(id.as_str()));
                let decoded: Vec<String> = frame
                    .rows
                    .unwrap_or_default()
                    .iter()
                    .map(|r| r.get("id").unwrap().get().trim_matches('"').to_owned())
                    .collect();
                prop_assert_eq!(decoded, ids.iter().map(i64::to_string).collect::<Vec<_>>());
            }
        }
    }
}
