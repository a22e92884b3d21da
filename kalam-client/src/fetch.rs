//! [`Fetch`]: the future every fetch verb returns, for the runtime [`Query`](crate::Query)
//! and the compile-time checked [`CheckedQuery`](crate::CheckedQuery) alike.
//!
//! Why a hand-written future rather than `async fn` verbs: an `async fn` on `Query<T>` is a
//! state machine per row type `T`, holding the whole request future inside it, and a program
//! with many row types (every `query!` record is one) compiles one of those per type. Here the
//! request is one non-generic boxed future whatever `T` is, and the only code compiled per row
//! type is the decoder below and `Fetch`'s small `poll`. See BENCHMARKS.md, kalam-macros.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::decode::FromCell;
use crate::envelope::{Discard, First, decode_rows};
use crate::error::{Error, Result};
use crate::row::{KalamRow, Scalar};

/// The future of a fetch verb ([`Query::fetch_all`](crate::Query::fetch_all),
/// [`CheckedQuery::fetch_one`](crate::CheckedQuery::fetch_one), …): the request, then the
/// decoding of the response body into `O`. Nothing is sent until it is first polled.
///
/// It is `Send`, and `'static` for a runtime [`Query`](crate::Query) (which owns its
/// client), so it can be spawned:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::start().await?;
/// # let client = kalam_client::KalamClient::builder()
/// #     .base_url(emulator.url())
/// #     .auth(kalam_client::AuthProvider::basic_auth("admin", "AdminPass123!"))
/// #     .build()?;
/// let fetch: kalam_client::Fetch<'static, Vec<(i64,)>> =
///     client.query("SELECT 1 AS n").fetch_all();
/// let rows = tokio::spawn(fetch).await??;
/// assert_eq!(rows, vec![(1,)]);
/// # Ok(())
/// # }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Fetch<'c, O> {
    // Built with struct literals by the verbs: a constructor would be one more function
    // compiled per output type.
    pub(crate) body: BodyFuture<'c>,
    pub(crate) decode: fn(&[u8]) -> Result<O>,
}

/// The request part of a [`Fetch`]: the response body of `/v1/api/sql`.
pub(crate) type BodyFuture<'c> = Pin<Box<dyn Future<Output = Result<Bytes>> + Send + 'c>>;

impl<O> fmt::Debug for Fetch<'_, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetch").finish_non_exhaustive()
    }
}

impl<O> Future for Fetch<'_, O> {
    type Output = Result<O>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<O>> {
        // `Fetch` is `Unpin`; `get_mut` is one small item per output type, where going
        // through `Pin`'s `DerefMut` would be several.
        let this = self.get_mut();
        match this.body.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(body)) => Poll::Ready((this.decode)(&body)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

// The decoders below are plain generic functions (no closures, no `Result` combinators): each
// is one item per row type. Every verb decodes every row of the first row set, so a bad row
// is an error whichever verb reads the result.

/// The first column of the first row (`fetch_scalar`, `query_scalar!`).
pub(crate) fn decode_scalar<T: FromCell>(body: &[u8]) -> Result<T> {
    let mut first = First::<Scalar<T>>(None);
    decode_rows(body, Scalar::<T>::columns(), &mut first)?;
    match first.0 {
        Some(Scalar(value)) => Ok(value),
        None => Err(Error::RowNotFound),
    }
}

/// Every row of the first row set.
pub(crate) fn decode_all<T: KalamRow>(body: &[u8]) -> Result<Vec<T>> {
    let mut rows = Vec::new();
    decode_rows(body, T::columns(), &mut rows)?;
    Ok(rows)
}

/// The first row, or [`Error::RowNotFound`].
pub(crate) fn decode_one<T: KalamRow>(body: &[u8]) -> Result<T> {
    match decode_first::<T>(body)? {
        Some(row) => Ok(row),
        None => Err(Error::RowNotFound),
    }
}

/// The first row of the first row set, if any.
pub(crate) fn decode_first<T: KalamRow>(body: &[u8]) -> Result<Option<T>> {
    let mut first = First(None);
    decode_rows(body, T::columns(), &mut first)?;
    Ok(first.0)
}

/// The rows affected: the sum of `row_count` over all results.
pub(crate) fn decode_count(body: &[u8]) -> Result<u64> {
    decode_rows(body, &[], &mut Discard)
}
