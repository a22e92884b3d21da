//! The browser transport: the page's event loop, timers, clock and WebSocket.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use gloo_net::websocket::{Message as WsMessage, WebSocketError, futures::WebSocket};
pub(crate) use gloo_timers::future::sleep;
#[cfg(feature = "healthcheck")]
pub(crate) use web_time::Instant;
use web_time::{SystemTime, UNIX_EPOCH};

use crate::error::Result;

/// A future boxed for storing or returning: not `Send`, since the browser's handles
/// (`fetch` responses, sockets) stay on the page's thread.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The wall clock (std's own panics in a browser), from `Date.now()`.
pub(crate) fn system_now() -> std::time::SystemTime {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    std::time::UNIX_EPOCH + since
}

/// Whether the request failed to connect: `fetch` does not tell (a refused connection, a
/// CORS refusal and a dropped one are all the same `TypeError`).
pub(crate) fn is_connect(_: &reqwest::Error) -> bool {
    false
}

/// Closes the socket (the browser sends the Close frame).
pub(crate) async fn close(socket: &mut Socket) {
    // The socket is being dropped: a failure to say goodbye changes nothing.
    let _ = socket.close().await;
}

/// Whether the socket can send Ping frames: a page cannot (the server answers no JSON ping).
pub(crate) const PONGS: bool = false;

/// A response body: the page's `fetch` hands it over whole, as one chunk.
pub(crate) struct Body(Option<reqwest::Response>);

impl From<reqwest::Response> for Body {
    fn from(response: reqwest::Response) -> Self {
        Self(Some(response))
    }
}

impl Body {
    pub(crate) async fn chunk(&mut self) -> reqwest::Result<Option<bytes::Bytes>> {
        match self.0.take() {
            Some(response) => response.bytes().await.map(Some),
            None => Ok(None),
        }
    }
}

/// Runs `fut` on the page's event loop.
pub(crate) fn spawn(fut: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(fut);
}

/// `fut`'s output, or [`Elapsed`](super::Elapsed) once `after` has passed.
pub(crate) async fn timeout<F: Future>(
    after: Duration,
    fut: F,
) -> std::result::Result<F::Output, super::Elapsed> {
    let fut = std::pin::pin!(fut);
    match futures_util::future::select(fut, sleep(after)).await {
        futures_util::future::Either::Left((output, _)) => Ok(output),
        futures_util::future::Either::Right(_) => Err(super::Elapsed),
    }
}

/// Ticks every `period`, the first tick one period from now.
pub(crate) struct Interval(gloo_timers::future::IntervalStream);

impl Interval {
    pub(crate) fn new(period: Duration) -> Self {
        let millis = u32::try_from(period.as_millis()).unwrap_or(u32::MAX);
        Self(gloo_timers::future::IntervalStream::new(millis))
    }

    pub(crate) async fn tick(&mut self) {
        // The stream never ends.
        self.0.next().await;
    }
}

/// A WebSocket message, named as tungstenite names them so the live task reads the same on
/// both targets. The browser answers pings itself and sends none on request: [`Socket`] drops
/// `Ping` frames (the JSON keepalive still goes out).
#[derive(Debug)]
pub(crate) enum Message {
    Text(String),
    Binary(Vec<u8>),
    // The payload is dropped with the frame.
    Ping(#[allow(dead_code)] Vec<u8>),
    Close(Option<String>),
}

impl Message {
    pub(crate) fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }
}

/// The page's WebSocket as a stream and sink of [`Message`]s.
pub(crate) struct Socket(WebSocket);

impl Stream for Socket {
    type Item = std::result::Result<Message, WebSocketError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_next_unpin(cx).map(|item| {
            item.map(|message| match message {
                Ok(WsMessage::Text(text)) => Ok(Message::Text(text)),
                Ok(WsMessage::Bytes(bytes)) => Ok(Message::Binary(bytes)),
                Err(WebSocketError::ConnectionClose(close)) => Ok(Message::Close(Some(format!(
                    "code {}, reason `{}`",
                    close.code, close.reason
                )))),
                Err(e) => Err(e),
            })
        })
    }
}

impl Sink<Message> for Socket {
    type Error = WebSocketError;

    fn poll_ready(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::result::Result<(), Self::Error>> {
        self.0.poll_ready_unpin(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> std::result::Result<(), Self::Error> {
        match item {
            Message::Text(text) => self.0.start_send_unpin(WsMessage::Text(text)),
            Message::Binary(bytes) => self.0.start_send_unpin(WsMessage::Bytes(bytes)),
            Message::Ping(_) | Message::Close(_) => Ok(()),
        }
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::result::Result<(), Self::Error>> {
        self.0.poll_flush_unpin(cx)
    }

    fn poll_close(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::result::Result<(), Self::Error>> {
        self.0.poll_close_unpin(cx)
    }
}

/// Opens `url` (`http(s)://…/v1/ws`, as `ws(s)://`) and authenticates with the JWT as the first message (protocol 3.2 B): a page
/// cannot put an `Authorization` header on the upgrade. The server answers `auth_success`.
pub(crate) async fn connect(mut url: reqwest::Url, token: &str) -> Result<Socket> {
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme)
        .map_err(|()| super::ws_error("connect", format!("no WebSocket URL for `{url}`")))?;
    let socket = WebSocket::open(url.as_str()).map_err(|e| super::ws_error("connect", e))?;
    let mut socket = Socket(socket);
    let hello = serde_json::json!({
        "type": "authenticate",
        "method": "jwt",
        "token": token,
        "protocol": {"serialization": "json", "compression": "gzip"},
    });
    // The sink waits for the socket to open before it takes the message.
    socket
        .send(Message::text(hello.to_string()))
        .await
        .map_err(|e| super::ws_error("connect", e))?;
    Ok(socket)
}
