//! The listening socket and every accepted connection, under the emulator's control: each
//! connection can be killed (fault injection, shutdown, the "close without response" path of
//! protocol 1.5) and the listener can be closed and reopened on the same port.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// Kills one connection: its reads and writes fail from then on. Or freezes it: its reads
/// and writes wait forever (a half-open connection), until it is killed.
#[derive(Debug, Default)]
pub(crate) struct KillSwitch {
    killed: AtomicBool,
    frozen: AtomicBool,
    read: AtomicWaker,
    write: AtomicWaker,
}

impl KillSwitch {
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.read.wake();
        self.write.wake();
    }

    fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::SeqCst)
    }
}

/// State shared between the listener, the connections and the fault controls.
#[derive(Debug)]
pub(crate) struct NetShared {
    conns: Mutex<HashMap<u64, Arc<KillSwitch>>>,
    next_id: AtomicU64,
    refuse_until: Mutex<Option<Instant>>,
    control: Notify,
    bound: watch::Sender<u64>,
    closed: AtomicBool,
}

impl NetShared {
    pub(crate) fn new() -> Arc<NetShared> {
        Arc::new(NetShared {
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            refuse_until: Mutex::new(None),
            control: Notify::new(),
            bound: watch::channel(0).0,
            closed: AtomicBool::new(false),
        })
    }

    /// Closes every open connection; returns how many there were.
    pub(crate) fn kill_all(&self) -> usize {
        let conns: Vec<Arc<KillSwitch>> = self
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, k)| k)
            .collect();
        for k in &conns {
            k.kill();
        }
        conns.len()
    }

    /// Freezes every open connection; returns how many there were.
    pub(crate) fn freeze_all(&self) -> usize {
        let conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        for k in conns.values() {
            k.freeze();
        }
        conns.len()
    }

    /// Closes the listening socket for `d`, then reopens it on the same port.
    pub(crate) fn refuse_for(&self, d: Duration) {
        *self.refuse_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + d);
        self.control.notify_waiters();
        self.control.notify_one();
    }

    /// A receiver that changes each time the listener is (re)bound.
    pub(crate) fn bound(&self) -> watch::Receiver<u64> {
        self.bound.subscribe()
    }

    /// Stops accepting for good (shutdown).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.control.notify_waiters();
        self.control.notify_one();
    }

    fn register(&self) -> (u64, Arc<KillSwitch>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let k = Arc::new(KillSwitch::default());
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, k.clone());
        (id, k)
    }

    fn unregister(&self, id: u64) {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}

/// The byte stream of a connection: plain TCP, or TLS over it.
#[derive(Debug)]
enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// What accepts TLS connections (feature `tls`).
#[cfg(feature = "tls")]
pub(crate) type TlsAcceptor = tokio_rustls::TlsAcceptor;

/// Without the `tls` feature there is no acceptor: the type has no values.
#[cfg(not(feature = "tls"))]
#[derive(Debug)]
pub(crate) enum TlsAcceptor {}

/// A TLS acceptor for a PEM certificate chain and private key.
#[cfg(feature = "tls")]
pub(crate) fn tls_acceptor(chain: &[u8], key: &[u8]) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("TLS certificate chain: {e}"))?;
    if certs.is_empty() {
        return Err("TLS certificate chain: no certificate in the PEM text".to_owned());
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("TLS private key: {e}"))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS configuration: {e}"))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("TLS certificate: {e}"))?;
    // HTTP/1.1 by ALPN (the WebSocket upgrade needs it); h2 for clients that ask.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A TCP connection that fails once killed.
#[derive(Debug)]
pub(crate) struct Conn {
    inner: Stream,
    id: u64,
    kill: Arc<KillSwitch>,
    shared: Arc<NetShared>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shared.unregister(self.id);
    }
}

fn killed_err() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection closed by the emulator",
    )
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.kill.read.register(cx.waker());
        if self.kill.is_killed() {
            return Poll::Ready(Err(killed_err()));
        }
        if self.kill.is_frozen() {
            return Poll::Pending;
        }
        match &mut self.inner {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.kill.write.register(cx.waker());
        if self.kill.is_killed() {
            return Poll::Ready(Err(killed_err()));
        }
        if self.kill.is_frozen() {
            return Poll::Pending;
        }
        match &mut self.inner {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kill.is_killed() {
            return Poll::Ready(Err(killed_err()));
        }
        if self.kill.is_frozen() {
            self.kill.write.register(cx.waker());
            return Poll::Pending;
        }
        match &mut self.inner {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// What a handler learns about its connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnMeta {
    pub(crate) peer: SocketAddr,
    pub(crate) kill: Arc<KillSwitch>,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, EmuListener>>
    for ConnMeta
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, EmuListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// The emulator's listener (an axum [`Listener`](axum::serve::Listener)).
pub(crate) struct EmuListener {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    shared: Arc<NetShared>,
    tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for EmuListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmuListener")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl EmuListener {
    pub(crate) async fn bind(
        addr: SocketAddr,
        shared: Arc<NetShared>,
        tls: Option<TlsAcceptor>,
    ) -> io::Result<EmuListener> {
        let l = TcpListener::bind(addr).await?;
        let addr = l.local_addr()?;
        shared.bound.send_modify(|g| *g += 1);
        Ok(EmuListener {
            addr,
            listener: Some(l),
            shared,
            tls,
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn refusing(&self) -> Option<Instant> {
        let mut r = self
            .shared
            .refuse_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match *r {
            Some(t) if t > Instant::now() => Some(t),
            Some(_) => {
                *r = None;
                None
            }
            None => None,
        }
    }
}

impl axum::serve::Listener for EmuListener {
    type Io = Conn;
    type Addr = ConnMeta;

    async fn accept(&mut self) -> (Conn, ConnMeta) {
        loop {
            if self.shared.closed.load(Ordering::SeqCst) {
                self.listener = None;
                std::future::pending::<()>().await;
            }
            if let Some(until) = self.refusing() {
                self.listener = None;
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = self.shared.control.notified() => {}
                }
                continue;
            }
            if self.listener.is_none() {
                match TcpListener::bind(self.addr).await {
                    Ok(l) => {
                        self.listener = Some(l);
                        self.shared.bound.send_modify(|g| *g += 1);
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                }
            }
            let Some(l) = self.listener.as_ref() else {
                continue;
            };
            tokio::select! {
                r = l.accept() => match r {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let inner = match &self.tls {
                            None => Stream::Plain(stream),
                            // A failed or stalled handshake (an untrusted certificate, a wrong
                            // host name on the client's side) closes this connection only.
                            #[cfg(feature = "tls")]
                            Some(tls) => match tokio::time::timeout(
                                Duration::from_secs(5),
                                tls.accept(stream),
                            ).await {
                                Ok(Ok(s)) => Stream::Tls(Box::new(s)),
                                _ => continue,
                            },
                            #[cfg(not(feature = "tls"))]
                            Some(never) => match *never {},
                        };
                        let (id, kill) = self.shared.register();
                        let conn = Conn { inner, id, kill: kill.clone(), shared: self.shared.clone() };
                        return (conn, ConnMeta { peer, kill });
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                },
                _ = self.shared.control.notified() => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<ConnMeta> {
        Ok(ConnMeta {
            peer: self.addr,
            kill: Arc::new(KillSwitch::default()),
        })
    }
}
