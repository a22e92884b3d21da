//! [`Fetch`]: the future every fetch verb returns, for the runtime [`Query`](crate::Query)
//! and the compile-time checked [`CheckedQuery`](crate::CheckedQuery) alike, and
//! [`FetchStream`], the stream of `fetch`.
//!
//! Why a hand-written future rather than `async fn` verbs: an `async fn` on `Query<T>` is a
//! state machine per row type `T`, holding the whole request future inside it, and a program
//! with many row types (every `query!` record is one) compiles one of those per type. Here the
//! requests are driven by one non-generic [`Pager`] (which also pages through large results,
//! see the `paging` module), and the only code compiled per row type is the decoder below and
//! the small `poll` of `Fetch`/`FetchStream`. See BENCHMARKS.md, kalam-macros.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;

use crate::decode::FromCell;
use crate::envelope::{First, PageInfo, PageOpts, decode_page};
use crate::error::{Error, Result};
use crate::paging::Pager;
use crate::row::{KalamRow, Scalar};

/// The future of a fetch verb ([`Query::fetch_all`](crate::Query::fetch_all),
/// [`CheckedQuery::fetch_one`](crate::CheckedQuery::fetch_one), …): the request(s), then the
/// decoding of each response body into `O`. Nothing is sent until it is first polled.
///
/// It is `Send` (when `O` is), and `'static` for a runtime [`Query`](crate::Query) (which
/// owns its client), so it can be spawned:
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
///     kalam_client::query_as("SELECT 1 AS n").fetch_all(&client);
/// let rows = tokio::spawn(fetch).await??;
/// assert_eq!(rows, vec![(1,)]);
/// # Ok(())
/// # }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Fetch<'c, O> {
    // Built with struct literals by the verbs: a constructor would be one more function
    // compiled per output type.
    pub(crate) pager: Pager,
    pub(crate) decode: Decode<O>,
    pub(crate) out: Option<O>,
    pub(crate) _client: PhantomData<&'c ()>,
}

/// Decodes one page into the verb's output (appending, for `fetch_all`).
pub(crate) type Decode<O> = fn(&[u8], PageOpts, &mut Option<O>) -> Result<PageInfo>;

/// One request: the response body of `/v1/api/sql`.
pub(crate) type BodyFuture<'c> = Pin<Box<dyn Future<Output = Result<Bytes>> + Send + 'c>>;

// `Fetch` never pins `O`: the output is only moved out once ready.
impl<O> Unpin for Fetch<'_, O> {}

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
        loop {
            match this.pager.poll_page(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(None)) => {
                    return Poll::Ready(match this.out.take() {
                        Some(out) => Ok(out),
                        None => Err(no_answer()),
                    });
                }
                Poll::Ready(Ok(Some(page))) => {
                    match (this.decode)(&page.body, page.opts, &mut this.out) {
                        Ok(info) => {
                            if this.pager.advance(info) {
                                this.out = None;
                            }
                        }
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
            }
        }
    }
}

fn no_answer() -> Error {
    Error::Protocol("the query ended without an answer".to_owned())
}

/// The stream of [`Query::fetch`](crate::Query::fetch) and
/// [`CheckedQuery::fetch`](crate::CheckedQuery::fetch): every row of a query, in order,
/// read one page (at most `max_query_limit` rows) at a time. A page is requested when the
/// rows of the previous one have all been taken, so memory holds one page, whatever the
/// size of the result. The first error ends the stream.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::start().await?;
/// # let client = kalam_client::KalamClient::builder()
/// #     .base_url(emulator.url())
/// #     .auth(kalam_client::AuthProvider::basic_auth("admin", "AdminPass123!"))
/// #     .build()?;
/// use futures_util::TryStreamExt;
/// kalam_client::query("CREATE NAMESPACE IF NOT EXISTS shop").execute(&client).await?;
/// kalam_client::query("CREATE SHARED TABLE shop.items (id BIGINT PRIMARY KEY, name TEXT)").execute(&client).await?;
/// let values: Vec<String> = (1..=120).map(|i| format!("({i}, 'item {i}')")).collect();
/// kalam_client::query(format!("INSERT INTO shop.items (id, name) VALUES {}", values.join(", "))).execute(&client).await?;
///
/// let mut items = kalam_client::query_as::<(i64, String)>("SELECT id, name FROM shop.items").fetch(&client);
/// let mut count = 0;
/// while let Some((id, _name)) = items.try_next().await? {
///     count += 1;
///     assert_eq!(id, count);
/// }
/// assert_eq!(count, 120); // not the server's implicit 50
/// # Ok(())
/// # }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct FetchStream<'c, T> {
    pub(crate) pager: Pager,
    pub(crate) rows: std::vec::IntoIter<T>,
    pub(crate) done: bool,
    pub(crate) _client: PhantomData<&'c ()>,
}

// `FetchStream` never pins its rows.
impl<T> Unpin for FetchStream<'_, T> {}

impl<T> fmt::Debug for FetchStream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchStream")
            .field("buffered", &self.rows.len())
            .finish_non_exhaustive()
    }
}

impl<T: KalamRow> Stream for FetchStream<'_, T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        loop {
            if let Some(row) = this.rows.next() {
                return Poll::Ready(Some(Ok(row)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match this.pager.poll_page(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(None)) => this.done = true,
                Poll::Ready(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Ok(Some(page))) => {
                    let mut rows = Vec::new();
                    match decode_page(&page.body, T::columns(), &mut rows, page.opts) {
                        Ok(info) => {
                            // The body goes before the next request is made.
                            drop(page);
                            if !this.pager.advance(info) {
                                this.rows = rows.into_iter();
                            }
                        }
                        Err(e) => {
                            this.done = true;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
            }
        }
    }
}

// The decoders below are plain generic functions (no closures, no `Result` combinators): each
// is one item per row type. Every verb decodes every row of the first row set, so a bad row
// is an error whichever verb reads the result.

/// The first column of the first row (`fetch_scalar`, `query_scalar!`).
pub(crate) fn decode_scalar<T: FromCell>(
    body: &[u8],
    opts: PageOpts,
    out: &mut Option<T>,
) -> Result<PageInfo> {
    let mut first = First::<Scalar<T>>(None);
    let info = decode_page(body, Scalar::<T>::columns(), &mut first, opts)?;
    match first.0 {
        Some(Scalar(value)) => {
            *out = Some(value);
            Ok(info)
        }
        None => Err(Error::RowNotFound),
    }
}

/// Every row (appended to the rows of the pages before).
pub(crate) fn decode_all<T: KalamRow>(
    body: &[u8],
    opts: PageOpts,
    out: &mut Option<Vec<T>>,
) -> Result<PageInfo> {
    decode_page(body, T::columns(), out.get_or_insert_with(Vec::new), opts)
}

/// The first row, or [`Error::RowNotFound`].
pub(crate) fn decode_one<T: KalamRow>(
    body: &[u8],
    opts: PageOpts,
    out: &mut Option<T>,
) -> Result<PageInfo> {
    let mut first = First(None);
    let info = decode_page(body, T::columns(), &mut first, opts)?;
    match first.0 {
        Some(row) => {
            *out = Some(row);
            Ok(info)
        }
        None => Err(Error::RowNotFound),
    }
}

/// The first row of the first row set, if any.
pub(crate) fn decode_first<T: KalamRow>(
    body: &[u8],
    opts: PageOpts,
    out: &mut Option<Option<T>>,
) -> Result<PageInfo> {
    let mut first = First(None);
    let info = decode_page(body, T::columns(), &mut first, opts)?;
    *out = Some(first.0);
    Ok(info)
}

/// The rows affected: the sum of `row_count` over all results.
pub(crate) fn decode_count(body: &[u8], opts: PageOpts, out: &mut Option<u64>) -> Result<PageInfo> {
    let info = decode_page(body, &[], &mut crate::envelope::Discard, opts)?;
    *out = Some(info.row_count);
    Ok(info)
}
