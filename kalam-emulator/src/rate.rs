//! Request-rate limits (protocol 1.3 step 1, 2.1, 3.3): per-user SQL queries, per-IP
//! authentication attempts, per-connection WebSocket messages.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Rate limits of a [`crate::Emulator`]. **Off by default** ([`RateLimits::default`]); the
/// server's stock limits are [`RateLimits::server_defaults`].
///
/// Every limit counts events in a sliding window (one second unless [`RateLimits::window`]
/// says otherwise). The stock server limits are off by default because loopback test suites
/// — this workspace's included — send far more than 100 queries and 20 logins a second.
///
/// ```
/// use std::time::Duration;
/// use kalam_emulator::RateLimits;
/// let r = RateLimits::server_defaults().queries_per_user(Some(500));
/// assert_eq!(r.get_queries_per_user(), Some(500));
/// assert_eq!(r.get_auth_attempts_per_ip(), Some(20));
/// assert_eq!(RateLimits::default().get_ws_messages_per_connection(), None);
/// let slow = RateLimits::default().ws_messages_per_connection(Some(3)).window(Duration::from_secs(60));
/// assert_eq!(slow.get_window(), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct RateLimits {
    queries_per_user: Option<u32>,
    auth_attempts_per_ip: Option<u32>,
    ws_messages_per_connection: Option<u32>,
    window: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            queries_per_user: None,
            auth_attempts_per_ip: None,
            ws_messages_per_connection: None,
            window: Duration::from_secs(1),
        }
    }
}

impl RateLimits {
    /// The stock server's limits: 100 SQL requests per user (`max_queries_per_sec`), 20
    /// authentication attempts per IP (`max_auth_requests_per_ip_per_sec`), 50 WebSocket
    /// messages per connection (`max_messages_per_sec`), per second.
    pub fn server_defaults() -> Self {
        RateLimits {
            queries_per_user: Some(100),
            auth_attempts_per_ip: Some(20),
            ws_messages_per_connection: Some(50),
            window: Duration::from_secs(1),
        }
    }

    /// SQL requests (`POST /v1/api/sql`) one user may send per window; more get 429
    /// `RATE_LIMIT_EXCEEDED`. `None`: unlimited.
    pub fn queries_per_user(mut self, n: Option<u32>) -> Self {
        self.queries_per_user = n;
        self
    }

    /// Authentication attempts one client IP may make per window (login, refresh, setup,
    /// WebSocket authentication); more get 429 `rate_limited` (HTTP) or `auth_error` + close
    /// 1008 (WebSocket). `None`: unlimited.
    pub fn auth_attempts_per_ip(mut self, n: Option<u32>) -> Self {
        self.auth_attempts_per_ip = n;
        self
    }

    /// Client messages one WebSocket may send per window; more are dropped with an `error`
    /// frame `RATE_LIMIT_EXCEEDED` (subscription id `rate_limit`). `None`: unlimited.
    pub fn ws_messages_per_connection(mut self, n: Option<u32>) -> Self {
        self.ws_messages_per_connection = n;
        self
    }

    /// The length of the sliding window every limit counts in (default 1 s). Tests use a
    /// long window so that "the N+1st request is refused" does not depend on timing.
    pub fn window(mut self, d: Duration) -> Self {
        self.window = d;
        self
    }

    /// The per-user SQL request limit.
    pub fn get_queries_per_user(&self) -> Option<u32> {
        self.queries_per_user
    }

    /// The per-IP authentication attempt limit.
    pub fn get_auth_attempts_per_ip(&self) -> Option<u32> {
        self.auth_attempts_per_ip
    }

    /// The per-connection WebSocket message limit.
    pub fn get_ws_messages_per_connection(&self) -> Option<u32> {
        self.ws_messages_per_connection
    }

    /// The window length.
    pub fn get_window(&self) -> Duration {
        self.window
    }
}

/// A sliding-window counter: at most `max` events in any `window`.
#[derive(Debug)]
pub(crate) struct Window {
    max: Option<u32>,
    window: Duration,
    events: VecDeque<Instant>,
}

impl Window {
    pub(crate) fn new(max: Option<u32>, window: Duration) -> Window {
        Window {
            max,
            window,
            events: VecDeque::new(),
        }
    }

    /// Records an event if the limit allows it; `false` when it is over the limit (the
    /// refused event is not counted).
    pub(crate) fn allow(&mut self) -> bool {
        let Some(max) = self.max else {
            return true;
        };
        let now = Instant::now();
        while self
            .events
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.events.pop_front();
        }
        if self.events.len() >= max as usize {
            return false;
        }
        self.events.push_back(now);
        true
    }
}

/// Sliding windows keyed by user id or client IP.
#[derive(Debug)]
pub(crate) struct Keyed {
    max: Option<u32>,
    window: Duration,
    windows: Mutex<HashMap<String, Window>>,
}

impl Keyed {
    pub(crate) fn new(max: Option<u32>, window: Duration) -> Keyed {
        Keyed {
            max,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// [`Window::allow`] for `key`.
    pub(crate) fn allow(&self, key: &str) -> bool {
        if self.max.is_none() {
            return true;
        }
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        w.entry(key.to_owned())
            .or_insert_with(|| Window::new(self.max, self.window))
            .allow()
    }
}

/// The limiters of one emulator.
#[derive(Debug)]
pub(crate) struct Limiters {
    pub(crate) settings: RateLimits,
    pub(crate) queries: Keyed,
    pub(crate) auth: Keyed,
}

impl Limiters {
    pub(crate) fn new(settings: RateLimits) -> Limiters {
        Limiters {
            queries: Keyed::new(settings.queries_per_user, settings.window),
            auth: Keyed::new(settings.auth_attempts_per_ip, settings.window),
            settings,
        }
    }

    /// A new per-connection WebSocket message window.
    pub(crate) fn ws_window(&self) -> Window {
        Window::new(
            self.settings.ws_messages_per_connection,
            self.settings.window,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_and_refuses() {
        let mut w = Window::new(Some(2), Duration::from_secs(3600));
        assert!(w.allow());
        assert!(w.allow());
        assert!(!w.allow());
        let mut off = Window::new(None, Duration::from_secs(1));
        assert!((0..1000).all(|_| off.allow()));
        let k = Keyed::new(Some(1), Duration::from_secs(3600));
        assert!(k.allow("a"));
        assert!(!k.allow("a"));
        assert!(k.allow("b"));
    }
}
