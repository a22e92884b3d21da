//! A cached health check (feature `healthcheck`, protocol 2.7).

use std::sync::Mutex;
use std::time::Duration;

use crate::client::{KalamClient, KalamClientBuilder};
use crate::error::Result;
use crate::transport::Instant;
use crate::wire::HealthCheckResponse;

/// How long [`KalamClient::health_check_cached`] reuses an answer unless the builder says
/// otherwise (the official SDK's fixed 10 s).
pub const DEFAULT_HEALTH_CACHE_TTL: Duration = Duration::from_secs(10);

/// The last successful health answer and when it came.
#[derive(Debug)]
pub(crate) struct HealthCache {
    ttl: Duration,
    last: Mutex<Option<(Instant, HealthCheckResponse)>>,
}

impl HealthCache {
    pub(crate) fn new(ttl: Duration) -> HealthCache {
        HealthCache {
            ttl,
            last: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, HealthCheckResponse)>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self) -> Option<HealthCheckResponse> {
        self.lock()
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, health)| health.clone())
    }

    fn store(&self, health: &HealthCheckResponse) {
        *self.lock() = Some((Instant::now(), health.clone()));
    }

    fn clear(&self) {
        *self.lock() = None;
    }
}

impl KalamClientBuilder {
    /// How long [`KalamClient::health_check_cached`] reuses a successful answer (default
    /// [`DEFAULT_HEALTH_CACHE_TTL`]; `Duration::ZERO` turns the cache off).
    pub fn health_cache_ttl(mut self, ttl: Duration) -> Self {
        self.health_cache_ttl = ttl;
        self
    }
}

impl KalamClient {
    /// [`KalamClient::health_check`] with a cache: a successful answer younger than the
    /// builder's [`health_cache_ttl`](KalamClientBuilder::health_cache_ttl) is returned
    /// without asking the server again. Failures are never cached.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use std::time::Duration;
    /// let client = kalam_client::KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .health_cache_ttl(Duration::from_secs(30))
    ///     .build()?;
    /// let first = client.health_check_cached().await?;
    /// // The server now fails every request, but the cached answer is still fresh.
    /// emulator.faults().fail_next(503, "CLUSTER_UNAVAILABLE", "down");
    /// assert_eq!(client.health_check_cached().await?, first);
    /// client.clear_health_cache();
    /// assert!(client.health_check_cached().await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn health_check_cached(&self) -> Result<HealthCheckResponse> {
        let cache = &self.inner.health;
        if let Some(health) = cache.fresh() {
            return Ok(health);
        }
        let health = self.health_check().await?;
        cache.store(&health);
        Ok(health)
    }

    /// Forgets the cached health answer.
    pub fn clear_health_cache(&self) {
        self.inner.health.clear();
    }
}
