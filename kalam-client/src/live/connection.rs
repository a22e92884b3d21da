//! The shared WebSocket: one per client, opened lazily, owned by a task that multiplexes
//! subscriptions by id.
//!
//! The socket is tied to a client through a small registry keyed by the client's shared
//! state (compared through a `Weak`, so a freed client's slot is never reused by mistake).
//! Subscriptions hold an `Arc<Connection>`; when the last one is dropped the command channel
//! closes and the task closes the socket. A socket that failed is replaced on the next
//! subscribe.

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use super::protocol::{self, Command, Inbound, Lost, Protocol, Tick};
use super::state::{ConnectionState, StateTx};
use crate::client::{Inner, KalamClient};
use crate::error::{Error, ErrorCode, Result};
use crate::transport::{self, Message, Socket, ws_error};

/// Default keepalive period: a Ping frame and a `{"type":"ping"}` message (protocol 3.10:
/// ≤ 10 s).
pub(crate) const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(8);
/// How long to wait for `auth_success` after the upgrade (the SDK's `auth_timeout`).
const AUTH_TIMEOUT: Duration = Duration::from_secs(5);

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
        Some(Ok(message)) => protocol::decode_frame(inbound(&message), inner.max_response_size)?,
        Some(Err(e)) => return Err(ws_error("read", e)),
        None => None,
    };
    protocol::authenticated(frame)?;
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
    // Frames and messages (and inflated binary frames, in `protocol::decode_frame`) are bounded by
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

/// The protocol machine's view of a socket message.
fn inbound(message: &Message) -> Inbound<'_> {
    match message {
        Message::Text(text) => Inbound::Text(text.as_str()),
        Message::Binary(bytes) => Inbound::Binary(&bytes[..]),
        _ => Inbound::Control,
    }
}

enum Ended {
    /// Every handle is gone.
    Unused,
    /// The socket failed.
    Lost(String),
}

/// Serves one socket until it fails or nobody uses the connection any more: commands go to
/// the protocol machine and its messages to the socket, socket messages to the machine, and
/// every `keepalive` the machine decides between a ping and giving the socket up.
async fn serve(
    socket: &mut Socket,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    protocol: &mut Protocol,
    period: Duration,
) -> Ended {
    let mut keepalive = transport::Interval::new(period);
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { return Ended::Unused };
                let text = protocol.command(command);
                if let Err(e) = socket.send(Message::text(text)).await {
                    return Ended::Lost(format!("send failed: {e}"));
                }
            }
            message = socket.next() => {
                let message = match message {
                    Some(Ok(Message::Close(frame))) => {
                        return Ended::Lost(format!("server closed the connection: {frame:?}"));
                    }
                    Some(Ok(m)) => m,
                    Some(Err(e)) => return Ended::Lost(format!("read failed: {e}")),
                    None => return Ended::Lost("connection closed".to_owned()),
                };
                if let Err(Lost(reason)) = protocol.receive(inbound(&message)) {
                    return Ended::Lost(reason);
                }
            }
            _ = keepalive.tick() => {
                if protocol.tick() == Tick::HalfOpen {
                    return Ended::Lost(format!(
                        "no answer to the keepalive ping within {period:?} (half-open connection)"
                    ));
                }
                let pings = async {
                    socket.send(Message::Ping(Vec::new().into())).await?;
                    socket.send(Message::text(protocol::PING)).await
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

/// Opens a new socket, with the machine's backoff, while it still wants one.
async fn reconnect(
    client: &KalamClient,
    commands: &mpsc::UnboundedReceiver<Command>,
    protocol: &mut Protocol,
    state: &StateTx,
) -> Option<Socket> {
    let mut attempt = 0;
    loop {
        if !protocol.wanted(!commands.is_closed()) {
            return None;
        }
        let delay = protocol::backoff(attempt);
        state.set(ConnectionState::Reconnecting {
            attempt: attempt + 1,
            delay,
        });
        if !delay.is_zero() {
            transport::sleep(delay).await;
        }
        match open_socket(client).await {
            Ok(socket) => return Some(socket),
            Err(e) => tracing::debug!(attempt, "live reconnect failed: {e}"),
        }
        attempt += 1;
    }
}

/// The connection task: drives the protocol machine over one socket after another.
async fn run(
    client: KalamClient,
    mut socket: Socket,
    mut commands: mpsc::UnboundedReceiver<Command>,
    state: Arc<StateTx>,
) {
    let inner = &client.inner;
    let mut protocol = Protocol::new(inner.max_response_size, transport::PONGS);
    let reason = loop {
        let served = serve(
            &mut socket,
            &mut commands,
            &mut protocol,
            inner.live_keepalive,
        );
        let reason = match served.await {
            Ended::Unused => break "client dropped".to_owned(),
            Ended::Lost(reason) => reason,
        };
        tracing::debug!(%reason, "live connection lost, reconnecting");
        state.set(ConnectionState::Disconnected {
            reason: reason.clone(),
        });
        protocol.lost(&reason);
        let Some(new_socket) = reconnect(&client, &commands, &mut protocol, &state).await else {
            state.set(ConnectionState::Idle);
            return;
        };
        socket = new_socket;
        state.set(ConnectionState::Connected);
        let mut resent = Ok(());
        for text in protocol.resubscribe() {
            resent = resent.and(socket.send(Message::text(text)).await);
        }
        match resent {
            Ok(()) => state.set(ConnectionState::Resubscribed {
                subscriptions: protocol.len(),
            }),
            Err(e) => tracing::debug!("resubscribe failed: {e}"),
        }
    };
    tracing::debug!(%reason, "live connection ended");
    protocol.close(&reason);
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
}
