//! What the expansions of the compile-time checked macros build and call (feature `macros`).
//!
//! [`CheckedQuery`] is the value `query!`, `query_as!`, `query_scalar!` and `execute_as!`
//! return; [`KalamTable`] is implemented by `#[derive(KalamRow)]` with `#[kalam(table = …)]`;
//! [`LiveSql`] is what `live!` returns (await it for the typed [`LiveRows`] stream). Everything else here is called by generated code only
//! and re-exported through `__private`.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;

use kalam_schema::{Literal, SqlType, TableKind};

use crate::client::KalamClient;
use crate::decode::FromCell;
use crate::encode::{QueryParam, ToParam};
use crate::error::{Error, Result};
use crate::fetch::{
    Fetch, FetchStream, decode_all, decode_count, decode_first, decode_one, decode_scalar,
};
use crate::live::{FilterMode, LiveRows, LiveRowsConfig, RowOrder, SubscriptionOptions, Unordered};
use crate::paging::{Pager, Verb};
use crate::query::Query;
use crate::row::{KalamRow, RowRef};
use crate::sql::Params;

/// A statement checked at compile time, with its parameters already encoded.
///
/// Made by `query!`, `query_as!`, `query_scalar!`, `query_file!` and `execute_as!`; run it
/// with a fetch verb that takes the client, or turn it into a [`Query`] with
/// [`CheckedQuery::query`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::start().await?;
/// # let client = kalam_client::KalamClient::builder()
/// #     .base_url(emulator.url())
/// #     .auth(kalam_client::AuthProvider::basic_auth("admin", "AdminPass123!"))
/// #     .build()?;
/// // Checked against the schema directory while compiling: `n` is an `i64` field.
/// let row = kalam_client::query!("SELECT 7 AS n").fetch_one(&client).await?;
/// assert_eq!(row.n, 7);
/// # Ok(())
/// # }
/// ```
#[must_use = "a query does nothing until a fetch verb runs it"]
pub struct CheckedQuery<T> {
    // Built by the expansion as a struct literal around an untyped [`Statement`]: a
    // constructor or a bind method on `CheckedQuery<T>` itself would be compiled once per
    // `query!` record type (see BENCHMARKS.md, kalam-macros).
    #[doc(hidden)]
    pub __statement: Statement,
    #[doc(hidden)]
    pub __row: PhantomData<fn() -> T>,
}

/// The untyped part of a [`CheckedQuery`]: the SQL text, its encoded parameters and the
/// `execute_as!` user. Built by macro expansions only.
#[doc(hidden)]
pub struct Statement {
    sql: &'static str,
    /// Byte ranges of the identifiers in `sql` that name a namespace (for
    /// [`KalamClientBuilder::map_namespace`](crate::KalamClientBuilder::map_namespace)).
    namespaces: &'static [(u32, u32)],
    params: Params,
    as_user: Option<String>,
}

impl Statement {
    #[doc(hidden)]
    pub fn __new(sql: &'static str, namespaces: &'static [(u32, u32)]) -> Statement {
        Statement {
            sql,
            namespaces,
            params: Params::default(),
            as_user: None,
        }
    }

    /// Binds the next parameter (the typed `__bind_<type>` methods check its type first).
    fn bind_param<V: ToParam + ?Sized>(mut self, value: &V) -> Statement {
        self.params.push(value.to_param());
        self
    }

    #[doc(hidden)]
    pub fn __as_user(mut self, user: impl AsRef<str>) -> Statement {
        self.as_user = Some(user.as_ref().to_owned());
        self
    }

    /// The runtime [`Query`], parameters moved in (an encoding error surfaces when the query
    /// is sent, as for any [`Query::bind`]); the namespace mapping and the `EXECUTE AS USER`
    /// envelope are applied when it is sent, by the client it is sent with.
    fn into_query<T>(self) -> Query<T> {
        let query = Query::from_parts(std::borrow::Cow::Borrowed(self.sql), self.namespaces);
        let query = match self.as_user {
            Some(user) => query.as_user(user),
            None => query,
        };
        query.with_params(self.params)
    }
}

impl<T> fmt::Debug for CheckedQuery<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.__statement;
        f.debug_struct("CheckedQuery")
            .field("sql", &s.sql)
            .field("params", &s.params.values().len())
            .field("as_user", &s.as_user)
            .finish()
    }
}

// The fetch verbs are `#[inline]`: the MIR inliner then folds each into the caller, where
// without the hint it left one more function per record type for LLVM to optimize in release
// builds (see BENCHMARKS.md, kalam-macros).
impl<T> CheckedQuery<T> {
    /// The SQL text as checked (for `execute_as!`, the statement inside the `EXECUTE AS USER`
    /// envelope; a client with [`map_namespace`](crate::KalamClientBuilder::map_namespace)
    /// sends it with its namespaces renamed).
    pub fn sql(&self) -> &'static str {
        self.__statement.sql
    }

    /// The user an `execute_as!` statement runs as.
    pub fn as_user(&self) -> Option<&str> {
        self.__statement.as_user.as_deref()
    }

    /// The runtime [`Query`], parameters bound (for `.namespace(..)` and the other builder
    /// methods); run it with the same verbs.
    pub fn query(self) -> Query<T> {
        self.__statement.into_query()
    }

    /// Runs the statement and returns the rows affected.
    #[inline]
    pub fn execute(self, client: &KalamClient) -> Fetch<'_, u64> {
        Fetch {
            pager: pager(client, self.__statement, Verb::Execute),
            decode: decode_count,
            out: None,
            _client: PhantomData,
        }
    }

    /// Runs the query and returns the first column of the first row (`query_scalar!`).
    #[inline]
    pub fn fetch_scalar(self, client: &KalamClient) -> Fetch<'_, T>
    where
        T: FromCell,
    {
        Fetch {
            pager: pager(client, self.__statement, Verb::First),
            decode: decode_scalar::<T>,
            out: None,
            _client: PhantomData,
        }
    }
}

impl<T: KalamRow> CheckedQuery<T> {
    /// Runs the query and returns every row, in the order asked, beyond the server's
    /// implicit `LIMIT 50` and its row cap: see [`Query::fetch_all`].
    #[inline]
    pub fn fetch_all(self, client: &KalamClient) -> Fetch<'_, Vec<T>> {
        Fetch {
            pager: pager(client, self.__statement, Verb::All),
            decode: decode_all::<T>,
            out: None,
            _client: PhantomData,
        }
    }

    /// Streams every row of the query, one page at a time: see [`Query::fetch`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::builder()
    /// #     .schemas_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas"))
    /// #     .start()
    /// #     .await?;
    /// # let client = kalam_client::KalamClient::builder()
    /// #     .base_url(emulator.url())
    /// #     .auth(kalam_client::AuthProvider::basic_auth("admin", "AdminPass123!"))
    /// #     .build()?;
    /// use futures_util::TryStreamExt;
    /// # kalam_client::query!("INSERT INTO support.rooms (name, title) VALUES ('lobby', 'Lobby'), ('help', 'Help')")
    /// #     .execute(&client)
    /// #     .await?;
    /// let mut rooms = kalam_client::query!("SELECT name FROM support.rooms ORDER BY name").fetch(&client);
    /// let mut names = Vec::new();
    /// while let Some(room) = rooms.try_next().await? {
    ///     names.push(room.name);
    /// }
    /// assert_eq!(names, ["help", "lobby"]);
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn fetch(self, client: &KalamClient) -> FetchStream<'_, T> {
        FetchStream {
            pager: pager(client, self.__statement, Verb::All),
            rows: Vec::new().into_iter(),
            done: false,
            _client: PhantomData,
        }
    }

    /// Runs the query and returns the first row (in the order asked), or
    /// [`Error::RowNotFound`].
    #[inline]
    pub fn fetch_one(self, client: &KalamClient) -> Fetch<'_, T> {
        Fetch {
            pager: pager(client, self.__statement, Verb::First),
            decode: decode_one::<T>,
            out: None,
            _client: PhantomData,
        }
    }

    /// Runs the query and returns the first row, if any.
    #[inline]
    pub fn fetch_optional(self, client: &KalamClient) -> Fetch<'_, Option<T>> {
        Fetch {
            pager: pager(client, self.__statement, Verb::First),
            decode: decode_first::<T>,
            out: None,
            _client: PhantomData,
        }
    }
}

/// The requests of a [`CheckedQuery`], without its row type: the runtime [`Query`]'s own
/// pager, whatever the record types.
fn pager(client: &KalamClient, statement: Statement, verb: Verb) -> Pager {
    statement.into_query::<()>().pager(client, verb)
}

/// A row type bound to one table of the schema: written by `#[derive(KalamRow)]` with
/// `#[kalam(table = "ns.table")]`, after checking every field against that table.
///
/// ```
/// use kalam_client::{KalamRow, KalamTable, TableKind};
/// #[derive(KalamRow)]
/// #[kalam(table = "support.rooms")]
/// struct Room { name: String, title: String }
/// assert_eq!(Room::TABLE, "rooms");
/// assert_eq!(Room::PRIMARY_KEY, Some("name"));
/// assert_eq!(Room::KIND, TableKind::Shared);
/// ```
pub trait KalamTable: KalamRow {
    /// The table's namespace.
    const NAMESPACE: &'static str;
    /// The table name.
    const TABLE: &'static str;
    /// The primary-key column, if the table has one.
    const PRIMARY_KEY: Option<&'static str>;
    /// USER, SHARED, STREAM or SYSTEM.
    const KIND: TableKind;
}

/// A live query checked at compile time, made by `live!` for rows of `T`: `.await` it (or
/// call [`LiveSql::subscribe`]) to get the typed [`LiveRows`] stream.
///
/// Live subscriptions take no bind parameters, so `live!` renders each `{value}` as a
/// literal checked against its column's type; a value that cannot be rendered (say, a NaN
/// for a DOUBLE column) is reported when subscribing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::builder()
/// #     .schemas_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas"))
/// #     .start()
/// #     .await?;
/// # let client = kalam_client::KalamClient::builder()
/// #     .base_url(emulator.url())
/// #     .auth(kalam_client::AuthProvider::basic_auth("admin", "AdminPass123!"))
/// #     .build()?;
/// use futures_util::StreamExt;
/// use kalam_client::live::{LiveRowsConfig, LoadState};
/// use kalam_client::{KalamRow, live};
///
/// #[derive(Debug, KalamRow)]
/// #[kalam(table = "support.messages")]
/// struct Message { id: i64, room: String, body: String }
///
/// # kalam_client::query("INSERT INTO support.messages (id, room, role, body) VALUES (1, 'lobby', 'user', 'hi'), (2, 'other', 'user', 'elsewhere')")
/// #     .execute(&client)
/// #     .await?;
/// let room = "lobby";
/// let mut inbox = live!(client, Message, "SELECT id, room, body FROM support.messages WHERE room = {room}")
///     .with_config(LiveRowsConfig::new().with_limit(100))
///     .await?;
/// while inbox.state() != LoadState::Ready {
///     inbox.next().await.ok_or("the subscription ended")??;
/// }
/// let bodies: Vec<&str> = inbox.rows().map(|m| m.body.as_str()).collect();
/// assert_eq!(bodies, ["hi"]); // only the lobby's message
/// # Ok(())
/// # }
/// ```
#[must_use = "a live query does nothing until it is awaited"]
pub struct LiveSql<T, O = Unordered> {
    client: KalamClient,
    sql: Result<String>,
    config: LiveRowsConfig<O>,
    /// Set by `live!(…, filter = server)` or [`LiveSql::with_filter_mode`]; kept across
    /// [`LiveSql::with_config`].
    mode: Option<FilterMode>,
    options: SubscriptionOptions,
    _row: PhantomData<fn() -> T>,
}

impl<T, O> fmt::Debug for LiveSql<T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveSql")
            .field("sql", &self.sql)
            .finish_non_exhaustive()
    }
}

impl<T, O> LiveSql<T, O> {
    /// The SQL text to subscribe with, or the error rendering one of its values.
    pub fn sql(&self) -> std::result::Result<&str, &Error> {
        self.sql.as_deref()
    }

    /// The SQL text, owned.
    pub fn into_sql(self) -> Result<String> {
        self.sql
    }

    /// How the rows are materialized (limit, key columns, order, stable columns). A filter
    /// mode set by `live!(…, filter = server)` or [`LiveSql::with_filter_mode`] is kept.
    pub fn with_config<P>(self, config: LiveRowsConfig<P>) -> LiveSql<T, P> {
        LiveSql {
            client: self.client,
            sql: self.sql,
            config,
            mode: self.mode,
            options: self.options,
            _row: PhantomData,
        }
    }

    /// Where the WHERE is evaluated ([`LiveRowsConfig::with_filter_mode`]). `live!(…, filter =
    /// server)` sets [`FilterMode::Server`] after checking at compile time that the server
    /// delivers the filter; set here, the check runs when subscribing.
    pub fn with_filter_mode(mut self, mode: FilterMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Subscription options (batch size, resuming from a checkpoint, …).
    pub fn with_options(mut self, options: SubscriptionOptions) -> Self {
        self.options = options;
        self
    }
}

impl<T: KalamRow, O: RowOrder<T>> LiveSql<T, O> {
    /// Subscribes: [`KalamClient::live_with_config`] with this SQL, config and options.
    pub async fn subscribe(self) -> Result<LiveRows<T>> {
        let sql = self.sql?;
        let config = match self.mode {
            Some(mode) => self.config.with_filter_mode(mode),
            None => self.config,
        };
        self.client
            .live_with_config(&sql, config, self.options)
            .await
    }
}

impl<T, O> IntoFuture for LiveSql<T, O>
where
    T: KalamRow + Send + 'static,
    O: RowOrder<T> + Send + 'static,
{
    type Output = Result<LiveRows<T>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<LiveRows<T>>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.subscribe())
    }
}

/// How a row type reads its columns, for the compile-time checks of `query_as!`
/// (written by `#[derive(KalamRow)]`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not derive `KalamRow`",
    label = "query_as! and live! need the column list that #[derive(KalamRow)] writes",
    note = "add #[derive(kalam_client::KalamRow)] to the type"
)]
pub trait KalamShape {
    /// The fields, in declaration order.
    const SHAPE: &'static [FieldShape];
    /// `ns.table` from `#[kalam(table = …)]`, checked by `live!` against the query's table.
    const TABLE: Option<&'static str> = None;
}

/// One field of a [`KalamShape`].
#[derive(Debug, Clone, Copy)]
pub enum FieldShape {
    /// A field read from one column.
    Column {
        /// The column name.
        name: &'static str,
        /// Whether the field is an `Option` (or defaults on NULL).
        nullable: bool,
        /// Whether a missing column is fine (`#[kalam(default)]`).
        optional: bool,
        /// `FromCell::EXPECTED` of the field's Rust type.
        expected: &'static str,
    },
    /// A `#[kalam(flatten)]` field: the inner type's fields.
    Flatten(&'static [FieldShape]),
}

const fn str_eq(a: &str, b: &str, ignore_case: bool) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        let (x, y) = if ignore_case {
            (a[i].to_ascii_lowercase(), b[i].to_ascii_lowercase())
        } else {
            (a[i], b[i])
        };
        if x != y {
            return false;
        }
        i += 1;
    }
    true
}

/// The `FromCell::EXPECTED` names of the types the macros know; a type outside this list (a
/// user's own `FromCell`) is not type-checked at compile time.
const KNOWN_EXPECTED: &[&str] = &[
    "bool",
    "i8",
    "i16",
    "i32",
    "i64",
    "u8",
    "u16",
    "u32",
    "u64",
    "f32",
    "f64",
    "String",
    "Vec<u8>",
    "Vec<f32>",
    "Vec<f64>",
    "Timestamp",
    "DateTime",
    "Date",
    "Time",
    "Uuid",
    "Decimal",
    "JsonValue",
    "Json<T>",
    "FileRef",
    "chrono::NaiveDateTime",
    "chrono::DateTime<Utc>",
    "chrono::NaiveDate",
    "chrono::NaiveTime",
    "time::OffsetDateTime",
    "time::PrimitiveDateTime",
    "time::Date",
    "time::Time",
    "uuid::Uuid",
    "rust_decimal::Decimal",
];

const fn contains(list: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < list.len() {
        if str_eq(list[i], name, false) {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether a field whose type reports `expected` can hold a column whose Rust types are
/// `accepted` (unknown types are accepted: they are checked when the rows are decoded).
pub const fn expected_accepted(expected: &str, accepted: &[&str]) -> bool {
    contains(accepted, expected) || !contains(KNOWN_EXPECTED, expected)
}

/// The result of [`shape_check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeCheck {
    /// The field exists and fits.
    Ok,
    /// No field reads this column.
    Missing,
    /// The column may be NULL but the field is not an `Option`.
    NotOption,
    /// The field's Rust type cannot hold the column's type.
    WrongType,
}

const fn find_field(shape: &[FieldShape], column: &str) -> Option<(bool, &'static str)> {
    let mut i = 0;
    while i < shape.len() {
        match shape[i] {
            FieldShape::Column {
                name,
                nullable,
                expected,
                ..
            } => {
                if str_eq(name, column, true) {
                    return Some((nullable, expected));
                }
            }
            FieldShape::Flatten(inner) => {
                if let Some(found) = find_field(inner, column) {
                    return Some(found);
                }
            }
        }
        i += 1;
    }
    None
}

/// Checks the field a row type has for one output column of a query.
pub const fn shape_check(
    shape: &[FieldShape],
    column: &str,
    nullable: bool,
    accepted: &[&str],
) -> ShapeCheck {
    match find_field(shape, column) {
        None => ShapeCheck::Missing,
        Some((field_nullable, expected)) => {
            if nullable && !field_nullable {
                ShapeCheck::NotOption
            } else if !expected_accepted(expected, accepted) {
                ShapeCheck::WrongType
            } else {
                ShapeCheck::Ok
            }
        }
    }
}

/// Whether the row type reads a (required) column the query does not return.
pub const fn shape_reads_other(shape: &[FieldShape], columns: &[&str]) -> bool {
    let mut i = 0;
    while i < shape.len() {
        match shape[i] {
            FieldShape::Column { name, optional, .. } => {
                let mut found = optional;
                let mut j = 0;
                while j < columns.len() {
                    if str_eq(columns[j], name, true) {
                        found = true;
                    }
                    j += 1;
                }
                if !found {
                    return true;
                }
            }
            FieldShape::Flatten(inner) => {
                if shape_reads_other(inner, columns) {
                    return true;
                }
            }
        }
        i += 1;
    }
    false
}

/// Reads column `k` of a `query!` record. Kept out of line, so that each record's
/// `from_row` is a few calls: the decoding code is compiled once per Rust type rather than
/// inlined once per `query!` (see BENCHMARKS.md, kalam-macros).
#[inline(never)]
pub fn read_column<T: FromCell>(row: &RowRef<'_>, k: usize) -> Result<T> {
    row.get::<T>(k)
}

/// The rows of a `#[kalam(flatten)]` field: `len` columns starting at `start`.
pub fn sub_row<'r>(row: &RowRef<'r>, start: usize, len: usize) -> RowRef<'r> {
    RowRef {
        cells: row.cells,
        positions: row.positions.get(start..start + len).unwrap_or(&[]),
        schema: row.schema,
    }
}

/// A `#[kalam(default)]` field: the column by name if the result has it (NULL → default),
/// otherwise `T::default()`.
pub fn get_or_default<T: FromCell + Default>(row: &RowRef<'_>, name: &str) -> Result<T> {
    let schema = row.schema();
    let pos = schema.iter().position(|f| f.name == name).or_else(|| {
        schema
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
    });
    match pos {
        Some(pos) => Ok(row.get_at::<Option<T>>(pos)?.unwrap_or_default()),
        None => Ok(T::default()),
    }
}

/// Concatenates column lists (for row types with flattened fields); built once per type.
pub fn concat_columns(parts: &[&[crate::row::ColumnSpec]]) -> Vec<crate::row::ColumnSpec> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

/// Which Rust values may be bound to a parameter (or a `live!` value) of each KalamDB column
/// type; used by the expansions of `query!` and `live!`.
pub(crate) mod param {
    use super::{QueryParam, Statement, ToParam};

    // One trait per KalamDB column type: "which Rust values may be bound to a parameter (or a
    // `live!` value) of this type". A trait per type rather than one trait generic over a marker
    // type, so that a wrong argument is reported in the column's own words ("this parameter is
    // BIGINT: bind an `i64` …") instead of naming internal marker types.
    macro_rules! param_types {
        ($(
            $sql:literal $trait:ident $bind:ident $check:ident
            message = $message:literal, label = $label:literal;
            $($t:ty),*;
        )*) => {$(
            #[doc = concat!("Rust values that can be bound to a `", $sql, "` parameter.")]
            #[diagnostic::on_unimplemented(
                message = $message,
                label = $label,
                note = "an `Option` of any of these binds NULL when it is `None`"
            )]
            pub trait $trait {}
            impl<T: $trait + ?Sized> $trait for &T {}
            impl<T: $trait> $trait for Option<T> {}
            impl<T: $trait + ?Sized> $trait for Box<T> {}
            impl $trait for QueryParam {}
            $(impl $trait for $t {})*

            #[doc = concat!("Binds the next parameter of `statement`, a `", $sql, "` in the schema.")]
            #[doc(hidden)]
            #[inline]
            pub fn $bind<V: $trait + ToParam + ?Sized>(
                statement: Statement,
                value: &V,
            ) -> Statement {
                statement.bind_param(value)
            }

            #[doc = concat!("Type assertion for a `live!` value compared with a `", $sql, "` column.")]
            #[doc(hidden)]
            #[inline(always)]
            pub fn $check<V: $trait + ?Sized>(_: &V) {}
        )*};
    }

    param_types! {
        "BOOLEAN" BooleanParam __bind_boolean check_boolean
            message = "this parameter is BOOLEAN: bind a `bool`, not `{Self}`", label = "the schema says this parameter is BOOLEAN";
            bool;
        "SMALLINT" SmallIntParam __bind_smallint check_smallint
            message = "this parameter is SMALLINT: bind an `i16` (or `i8`, `u8`), not `{Self}`", label = "the schema says this parameter is SMALLINT";
            i8, i16, u8;
        "INT" IntParam __bind_int check_int
            message = "this parameter is INT: bind an `i32` (or `i16`, `u16`, `i8`, `u8`), not `{Self}`", label = "the schema says this parameter is INT";
            i8, i16, i32, u8, u16;
        "BIGINT" BigIntParam __bind_bigint check_bigint
            message = "this parameter is BIGINT: bind an `i64` (or `i32`, `u32`, `i16`, `u16`, `i8`, `u8`), not `{Self}`", label = "the schema says this parameter is BIGINT";
            i8, i16, i32, i64, u8, u16, u32;
        "FLOAT" FloatParam __bind_float check_float
            message = "this parameter is FLOAT: bind an `f32`, not `{Self}`", label = "the schema says this parameter is FLOAT";
            f32;
        "DOUBLE" DoubleParam __bind_double check_double
            message = "this parameter is DOUBLE: bind an `f64` (or `f32`), not `{Self}`", label = "the schema says this parameter is DOUBLE";
            f32, f64;
        "DECIMAL" DecimalParam __bind_decimal check_decimal
            message = "this parameter is DECIMAL: bind a `kalam_client::types::Decimal` (or an integer), not `{Self}`", label = "the schema says this parameter is DECIMAL";
            crate::types::Decimal, i8, i16, i32, i64, u8, u16, u32;
        "TEXT" TextParam __bind_text check_text
            message = "this parameter is TEXT: bind a `&str` or a `String`, not `{Self}`", label = "the schema says this parameter is TEXT";
            String, str;
        "TIMESTAMP" TimestampParam __bind_timestamp check_timestamp
            message = "this parameter is TIMESTAMP: bind a `kalam_client::types::Timestamp` (e.g. `Timestamp::from_micros`, or parse an RFC 3339 text), not `{Self}`", label = "the schema says this parameter is TIMESTAMP";
            crate::types::Timestamp;
        "DATETIME" DateTimeParam __bind_datetime check_datetime
            message = "this parameter is DATETIME: bind a `kalam_client::types::DateTime`, not `{Self}`", label = "the schema says this parameter is DATETIME";
            crate::types::DateTime;
        "DATE" DateParam __bind_date check_date
            message = "this parameter is DATE: bind a `kalam_client::types::Date` (e.g. `Date::from_ymd(2026, 1, 31)`), not `{Self}`", label = "the schema says this parameter is DATE";
            crate::types::Date;
        "TIME" TimeParam __bind_time check_time
            message = "this parameter is TIME: bind a `kalam_client::types::Time` (e.g. `Time::from_hms_micro(12, 30, 0, 0)`), not `{Self}`", label = "the schema says this parameter is TIME";
            crate::types::Time;
        "JSON" JsonParam __bind_json check_json
            message = "this parameter is JSON: bind a `serde_json::Value`, a `kalam_client::Json<T>` or JSON text, not `{Self}`", label = "the schema says this parameter is JSON";
            crate::types::JsonValue, String, str;
        "BYTES" BytesParam __bind_bytes check_bytes
            message = "this parameter is BYTES: bind a `Vec<u8>` or a `&[u8]`, not `{Self}`", label = "the schema says this parameter is BYTES";
            Vec<u8>, [u8];
        "EMBEDDING" EmbeddingParam __bind_embedding check_embedding
            message = "this parameter is EMBEDDING: bind a `Vec<f32>` or a `&[f32]`, not `{Self}`", label = "the schema says this parameter is EMBEDDING";
            Vec<f32>, [f32];
        "UUID" UuidParam __bind_uuid check_uuid
            message = "this parameter is UUID: bind a `kalam_client::types::Uuid` (or its text), not `{Self}`", label = "the schema says this parameter is UUID";
            crate::types::Uuid, String, str;
        "FILE" FileParam __bind_file check_file
            message = "this parameter is FILE: bind a `kalam_client::types::FileRef`, not `{Self}`", label = "the schema says this parameter is FILE";
            crate::types::FileRef;
    }

    impl<T: serde::Serialize> JsonParam for crate::types::Json<T> {}
    #[cfg(feature = "chrono")]
    impl TimestampParam for chrono::NaiveDateTime {}
    #[cfg(feature = "chrono")]
    impl DateTimeParam for chrono::DateTime<chrono::Utc> {}
    #[cfg(feature = "chrono")]
    impl DateParam for chrono::NaiveDate {}
    #[cfg(feature = "chrono")]
    impl TimeParam for chrono::NaiveTime {}
    #[cfg(feature = "time")]
    impl TimestampParam for time::PrimitiveDateTime {}
    #[cfg(feature = "time")]
    impl DateTimeParam for time::OffsetDateTime {}
    #[cfg(feature = "time")]
    impl DateParam for time::Date {}
    #[cfg(feature = "time")]
    impl TimeParam for time::Time {}
    #[cfg(feature = "uuid")]
    impl UuidParam for uuid::Uuid {}
    #[cfg(feature = "rust_decimal")]
    impl DecimalParam for rust_decimal::Decimal {}
}

/// Renders one `{value}` of a `live!` query as a literal for a column of type `ty`.
pub fn live_literal<V: ToParam + ?Sized>(index: usize, value: &V, ty: SqlType) -> Result<String> {
    let param = |message: String| Error::Param { index, message };
    let literal = match value.to_param().map_err(|e| param(e.to_string()))? {
        QueryParam::Null => Literal::Null,
        QueryParam::Bool(b) => Literal::Bool(b),
        QueryParam::Int(i) => Literal::Number(i.to_string()),
        QueryParam::Float(f) => Literal::Number(f.to_string()),
        QueryParam::Text(s) => Literal::String(s),
        QueryParam::File(f) => Literal::String(f.to_json()),
        other => {
            return Err(param(format!(
                "{other:?} has no safe literal form in a live query"
            )));
        }
    };
    kalam_schema::render_literal(&literal, ty).map_err(|e| param(e.message))
}

/// Joins the SQL pieces of a `live!` query with its rendered values; `namespaces` are the
/// namespace identifiers as (piece, start, end) byte ranges.
pub fn live_sql<T>(
    client: &KalamClient,
    pieces: &[&str],
    namespaces: &[(u32, u32, u32)],
    values: Vec<Result<String>>,
) -> LiveSql<T> {
    LiveSql {
        client: client.clone(),
        sql: join_live_sql(client, pieces, namespaces, values),
        config: LiveRowsConfig::new(),
        mode: None,
        options: SubscriptionOptions::new(),
        _row: PhantomData,
    }
}

fn join_live_sql(
    client: &KalamClient,
    pieces: &[&str],
    namespaces: &[(u32, u32, u32)],
    values: Vec<Result<String>>,
) -> Result<String> {
    let map = &client.inner.namespaces;
    let mut sql = String::new();
    let mut values = values.into_iter();
    for (k, piece) in pieces.iter().enumerate() {
        if k > 0 {
            match values.next() {
                Some(v) => sql.push_str(&v?),
                None => return Err(Error::Protocol("live! lost a value".into())),
            }
        }
        if map.is_empty() {
            sql.push_str(piece);
        } else {
            let refs = namespaces
                .iter()
                .filter(|(p, _, _)| *p as usize == k)
                .map(|&(_, s, e)| (s, e));
            map.rewrite_into(&mut sql, piece, refs);
        }
    }
    Ok(sql)
}

/// Whether a row type's `#[kalam(table = …)]` (if any) names `qualified` (`ns.table`).
pub const fn table_matches(declared: Option<&str>, qualified: &str) -> bool {
    match declared {
        Some(t) => str_eq(t, qualified, true),
        None => true,
    }
}
