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
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::client::{Inner, KalamClient};
use crate::error::{Error, ErrorCode, Result};

/// Keepalive period: a Ping frame and a `{"type":"ping"}` message (protocol 3.10: ≤ 10 s).
const KEEPALIVE: Duration = Duration::from_secs(8);
/// How long to wait for `auth_success` after the upgrade (the SDK's `auth_timeout`).
const AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Limit on an inflated binary frame (protocol 3.3).
const MAX_INFLATED: u64 = 64 * 1024 * 1024;

/// What a subscription receives from the connection task.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A server frame addressed to this subscription.
    Frame(Box<ServerFrame>),
    /// The socket is gone; no more frames will come.
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
    pub(crate) rows: Option<Vec<HashMap<String, Box<RawValue>>>>,
    #[serde(default)]
    pub(crate) old_values: Option<Vec<HashMap<String, Box<RawValue>>>>,
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

type Slot = Arc<tokio::sync::Mutex<Weak<Connection>>>;
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

/// The client's live connection, opening (and authenticating) it when there is none.
pub(crate) async fn shared(client: &KalamClient) -> Result<Arc<Connection>> {
    let slot = slot_for(client);
    let mut current = slot.lock().await;
    if let Some(conn) = current.upgrade().filter(|c| c.is_alive()) {
        return Ok(conn);
    }
    let conn = Arc::new(open(client).await?);
    *current = Arc::downgrade(&conn);
    Ok(conn)
}

/// `ws(s)://host:port/v1/ws`: the scheme follows the base URL, the path is replaced (3.1).
pub(crate) fn ws_url(base: &str) -> Result<String> {
    let mut url = reqwest::Url::parse(base)
        .map_err(|e| Error::Config(format!("invalid base_url `{base}`: {e}")))?;
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme)
        .map_err(|()| Error::Config(format!("cannot derive a WebSocket URL from `{base}`")))?;
    url.set_path("/v1/ws");
    url.set_query(None);
    Ok(url.to_string())
}

fn ws_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Protocol(format!("websocket {what}: {e}"))
}

async fn open(client: &KalamClient) -> Result<Connection> {
    let inner = &client.inner;
    let token = inner
        .auth
        .bearer(&inner.http())
        .await?
        .ok_or_else(|| Error::Auth {
            code: ErrorCode::parse("AUTH_REQUIRED"),
            message: "live queries need credentials (the WebSocket accepts only JWTs)".to_owned(),
        })?;
    let mut request = ws_url(&inner.base)?
        .into_client_request()
        .map_err(|e| ws_error("request", e))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|e| ws_error("header", e))?;
    request.headers_mut().insert("authorization", bearer);
    let connect = tokio_tungstenite::connect_async(request);
    let (mut socket, _) = tokio::time::timeout(inner.connect_timeout, connect)
        .await
        .map_err(|_| Error::Timeout {
            operation: "the WebSocket connection".to_owned(),
            after: inner.connect_timeout,
        })?
        .map_err(|e| ws_error("connect", e))?;
    // Header auth: the server pushes `auth_success` (or `auth_error`) unprompted (3.2 A).
    let first = tokio::time::timeout(AUTH_TIMEOUT, socket.next())
        .await
        .map_err(|_| Error::Timeout {
            operation: "auth_success".to_owned(),
            after: AUTH_TIMEOUT,
        })?;
    let frame = match first {
        Some(Ok(message)) => decode_message(message)?,
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
    let (commands, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(socket, rx));
    Ok(Connection { commands })
}

/// Parses one WebSocket message: text is JSON, binary is gzip'd JSON (3.3). `None` for
/// control frames.
pub(crate) fn decode_message(message: Message) -> Result<Option<ServerFrame>> {
    let parsed = match message {
        Message::Text(text) => serde_json::from_str(text.as_str()),
        Message::Binary(bytes) => {
            let mut json = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .take(MAX_INFLATED)
                .read_to_end(&mut json)
                .map_err(|e| ws_error("gzip frame", e))?;
            serde_json::from_slice(&json)
        }
        _ => return Ok(None),
    };
    parsed
        .map(Some)
        .map_err(|e| Error::Protocol(format!("malformed WebSocket frame: {e}")))
}

fn client_message(command: &Command) -> String {
    let value = match command {
        Command::Subscribe {
            id, sql, options, ..
        } => serde_json::json!({
            "type": "subscribe",
            "subscription": {"id": id, "sql": sql, "options": options},
        }),
        Command::NextBatch { id, last_seq_id } => serde_json::json!({
            "type": "next_batch", "subscription_id": id, "last_seq_id": last_seq_id,
        }),
        Command::Unsubscribe { id } => {
            serde_json::json!({"type": "unsubscribe", "subscription_id": id})
        }
    };
    value.to_string()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Routes a frame to its subscription: exact id, else a unique suffix match (3.11).
fn route<'a>(
    subs: &'a HashMap<String, mpsc::UnboundedSender<Incoming>>,
    id: &str,
) -> Option<&'a mpsc::UnboundedSender<Incoming>> {
    subs.get(id).or_else(|| {
        let mut hits = subs.iter().filter(|(k, _)| id.ends_with(k.as_str()));
        match (hits.next(), hits.next()) {
            (Some((_, tx)), None) => Some(tx),
            _ => None,
        }
    })
}

async fn run(mut socket: Socket, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut subs: HashMap<String, mpsc::UnboundedSender<Incoming>> = HashMap::new();
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    let reason = loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break "client dropped".to_owned() };
                let text = client_message(&command);
                match command {
                    Command::Subscribe { id, events, .. } => { subs.insert(id, events); }
                    Command::Unsubscribe { id } => { subs.remove(&id); }
                    Command::NextBatch { .. } => {}
                }
                if let Err(e) = socket.send(Message::text(text)).await {
                    break format!("send failed: {e}");
                }
            }
            message = socket.next() => {
                let message = match message {
                    Some(Ok(Message::Close(frame))) => {
                        break format!("server closed the connection: {frame:?}");
                    }
                    Some(Ok(m)) => m,
                    Some(Err(e)) => break format!("read failed: {e}"),
                    None => break "connection closed".to_owned(),
                };
                match decode_message(message) {
                    Ok(Some(frame)) => {
                        let id = frame.subscription_id.clone().unwrap_or_default();
                        if let Some(tx) = route(&subs, &id) {
                            // A dropped subscription unsubscribes itself; ignore the race.
                            let _ = tx.send(Incoming::Frame(Box::new(frame)));
                        } else {
                            tracing::debug!(kind = %frame.kind, id, "live frame for no subscription");
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!("skipping live frame: {e}"),
                }
            }
            _ = keepalive.tick() => {
                let ping = socket.send(Message::Ping(Vec::new().into())).await;
                let text = socket.send(Message::text(r#"{"type":"ping"}"#)).await;
                if let Err(e) = ping.and(text) {
                    break format!("keepalive failed: {e}");
                }
            }
        }
    };
    tracing::debug!(%reason, "live connection ended");
    for tx in subs.values() {
        let _ = tx.send(Incoming::Closed(reason.clone()));
    }
    let _ = socket.close(None).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_replaces_scheme_and_path() {
        assert_eq!(ws_url("http://h:1/prefix").unwrap(), "ws://h:1/v1/ws");
        assert_eq!(ws_url("https://h").unwrap(), "wss://h/v1/ws");
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
        let frame = decode_message(Message::Binary(bytes.into()))
            .unwrap()
            .unwrap();
        assert_eq!(frame.kind, "initial_data_batch");
        assert_eq!(frame.rows.unwrap()[0]["t"].get().len(), 602);
        assert!(decode_message(Message::Binary(vec![1, 2, 3].into())).is_err());
        assert!(
            decode_message(Message::Ping(Vec::new().into()))
                .unwrap()
                .is_none()
        );
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
}
