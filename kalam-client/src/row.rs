//! Typed rows ([`KalamRow`]) and the dynamic [`Row`].

use std::sync::Arc;

use kalam_schema::SqlType;
use serde_json::value::RawValue;

use crate::decode::{Cell, FromCell};
use crate::error::{Error, Result};
use crate::wire::SchemaField;

/// One column a [`KalamRow`] type reads: its name (empty = by position) and which reported
/// types its Rust type can hold.
///
/// ```
/// use kalam_client::ColumnSpec;
/// const ID: ColumnSpec = ColumnSpec::named::<i64>("id");
/// assert_eq!(ID.name, "id");
/// assert_eq!(ID.expected, "i64");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Result column name; empty for positional columns (tuples, scalars).
    pub name: &'static str,
    /// The Rust type, for messages.
    pub expected: &'static str,
    /// Whether a column reported with a given type fits (see [`FromCell::accepts`]).
    pub accepts: fn(SqlType) -> bool,
}

impl ColumnSpec {
    /// A column matched by name.
    pub const fn named<T: FromCell>(name: &'static str) -> ColumnSpec {
        ColumnSpec {
            name,
            expected: T::EXPECTED,
            accepts: T::accepts,
        }
    }

    /// A computed column matched by name (what `query!` writes for expressions): its Rust
    /// type comes from the engine's typing of the expression at compile time, and the type
    /// the server reports for it is not checked, because the server may describe it with
    /// another type (protocol 1.7: an aliased `CAST` reports its source column's type,
    /// `CAST(f AS INT) AS x` on a DOUBLE column says `Double`; result types without a KalamDB
    /// counterpart say `Text`). Each cell is still decoded strictly, so a value that does not
    /// fit is an [`Error::Decode`](crate::Error::Decode), never a wrong value.
    ///
    /// ```
    /// use kalam_client::{ColumnSpec, KalamDataType};
    /// const X: ColumnSpec = ColumnSpec::computed::<i32>("x");
    /// assert!((X.accepts)(KalamDataType::Double));
    /// assert!(!(ColumnSpec::named::<i32>("x").accepts)(KalamDataType::Double));
    /// ```
    pub const fn computed<T: FromCell>(name: &'static str) -> ColumnSpec {
        ColumnSpec {
            name,
            expected: T::EXPECTED,
            accepts: any_reported_type,
        }
    }

    /// A column matched by position.
    pub const fn positional<T: FromCell>() -> ColumnSpec {
        ColumnSpec {
            name: "",
            expected: T::EXPECTED,
            accepts: T::accepts,
        }
    }
}

fn any_reported_type(_: SqlType) -> bool {
    true
}

/// A type built from one result row.
///
/// `#[derive(KalamRow)]` (feature `macros`, later) writes this impl; until then write it by
/// hand: list the columns once in [`KalamRow::columns`], then read them by that list's index
/// in [`KalamRow::from_row`]. Column positions in the result are resolved by name once per
/// result set, and the result schema is checked against `columns()` before the first row.
///
/// ```
/// use kalam_client::{ColumnSpec, KalamRow, Result, RowRef};
/// use kalam_client::types::Timestamp;
///
/// struct Todo { id: i64, title: String, due_at: Option<Timestamp> }
///
/// impl KalamRow for Todo {
///     fn columns() -> &'static [ColumnSpec] {
///         const COLUMNS: &[ColumnSpec] = &[
///             ColumnSpec::named::<i64>("id"),
///             ColumnSpec::named::<String>("title"),
///             ColumnSpec::named::<Option<Timestamp>>("due_at"),
///         ];
///         COLUMNS
///     }
///     fn from_row(row: &RowRef<'_>) -> Result<Self> {
///         Ok(Todo { id: row.get(0)?, title: row.get(1)?, due_at: row.get(2)? })
///     }
/// }
/// ```
pub trait KalamRow: Sized {
    /// The columns this type reads, in the order `from_row` indexes them.
    fn columns() -> &'static [ColumnSpec];

    /// Builds a value from one row. `row.get(k)` decodes the cell of `columns()[k]`.
    fn from_row(row: &RowRef<'_>) -> Result<Self>;
}

/// One row being decoded: the raw cells of the row plus the column mapping of the result.
#[derive(Debug)]
pub struct RowRef<'r> {
    pub(crate) cells: &'r [&'r RawValue],
    pub(crate) positions: &'r [usize],
    pub(crate) schema: &'r Arc<[SchemaField]>,
}

impl<'r> RowRef<'r> {
    /// Decodes the cell of the `k`-th column of [`KalamRow::columns`].
    #[inline]
    pub fn get<T: FromCell>(&self, k: usize) -> Result<T> {
        let pos = self.positions.get(k).copied().ok_or_else(|| {
            Error::Protocol(format!(
                "row type reads column #{k}, which it did not declare"
            ))
        })?;
        self.get_at(pos)
    }

    /// Decodes the cell at result position `pos` (0-based, in the server's order).
    #[inline]
    pub fn get_at<T: FromCell>(&self, pos: usize) -> Result<T> {
        let raw = self.cells.get(pos).ok_or_else(|| {
            Error::Protocol(format!(
                "row has {} cells, column #{pos} is missing",
                self.cells.len()
            ))
        })?;
        let field = self.schema.get(pos);
        let name = field.map_or("", |f| f.name.as_str());
        T::from_cell(&Cell::new(raw.get(), name, field.map(|f| f.data_type)))
    }

    /// Number of cells in the row.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// True when the row has no cells.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The result schema.
    pub fn schema(&self) -> &[SchemaField] {
        self.schema
    }
}

/// Resolves where each of `specs` sits in `schema`, checking names and types. Called once
/// per result set, before any row.
pub(crate) fn resolve_columns(specs: &[ColumnSpec], schema: &[SchemaField]) -> Result<Vec<usize>> {
    specs
        .iter()
        .enumerate()
        .map(|(k, spec)| {
            let pos = if spec.name.is_empty() {
                (k < schema.len())
                    .then_some(k)
                    .ok_or_else(|| Error::SchemaMismatch {
                        column: format!("#{k}"),
                        expected: spec.expected.to_owned(),
                        found: format!("a result with {} column(s)", schema.len()),
                    })?
            } else {
                find_column(schema, spec.name).ok_or_else(|| Error::SchemaMismatch {
                    column: spec.name.to_owned(),
                    expected: spec.expected.to_owned(),
                    found: format!(
                        "no such column (result has: {})",
                        schema
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?
            };
            let field = &schema[pos];
            if !(spec.accepts)(field.data_type) {
                return Err(Error::SchemaMismatch {
                    column: field.name.clone(),
                    expected: spec.expected.to_owned(),
                    found: field.data_type.sql_name(),
                });
            }
            Ok(pos)
        })
        .collect()
}

/// Exact name first, then ASCII case-insensitive (the server folds column names to lower
/// case; aliases keep their case).
fn find_column(schema: &[SchemaField], name: &str) -> Option<usize> {
    schema.iter().position(|f| f.name == name).or_else(|| {
        schema
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
    })
}

impl KalamRow for () {
    fn columns() -> &'static [ColumnSpec] {
        &[]
    }
    fn from_row(_: &RowRef<'_>) -> Result<Self> {
        Ok(())
    }
}

// kalam-macros decodes `query!` records of up to 16 columns through these impls
// (`MAX_TUPLE_ROW` in kalam-macros/src/query/mod.rs): keep the two in step.
macro_rules! tuple_rows {
    ($(($($t:ident $i:tt),+))*) => {$(
        /// Tuples read the first columns by position.
        impl<$($t: FromCell),+> KalamRow for ($($t,)+) {
            fn columns() -> &'static [ColumnSpec] {
                const { &[$(ColumnSpec::positional::<$t>()),+] }
            }
            fn from_row(row: &RowRef<'_>) -> Result<Self> {
                Ok(($(row.get::<$t>($i)?,)+))
            }
        }
    )*};
}
tuple_rows! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14, P 15)
}

/// The first column of a row, for `fetch_scalar`.
pub(crate) struct Scalar<T>(pub(crate) T);

impl<T: FromCell> KalamRow for Scalar<T> {
    fn columns() -> &'static [ColumnSpec] {
        const { &[ColumnSpec::positional::<T>()] }
    }
    fn from_row(row: &RowRef<'_>) -> Result<Self> {
        row.get(0).map(Scalar)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for usize {}
    impl Sealed for &str {}
    impl Sealed for String {}
    impl Sealed for &String {}
}

/// A column index for [`Row::get`]: a position (`usize`) or a column name (`&str`).
pub trait RowIndex: sealed::Sealed + std::fmt::Debug {
    /// The position of this column in `columns`.
    fn index(&self, columns: &[SchemaField]) -> Option<usize>;
}

impl RowIndex for usize {
    fn index(&self, columns: &[SchemaField]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

impl RowIndex for &str {
    fn index(&self, columns: &[SchemaField]) -> Option<usize> {
        find_column(columns, self)
    }
}

impl RowIndex for String {
    fn index(&self, columns: &[SchemaField]) -> Option<usize> {
        find_column(columns, self)
    }
}

impl RowIndex for &String {
    fn index(&self, columns: &[SchemaField]) -> Option<usize> {
        find_column(columns, self)
    }
}

/// A row of any shape: cells kept as raw JSON, decoded on access by index or name.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::start().await?;
/// use kalam_client::{AuthProvider, KalamClient, Row};
/// let client = KalamClient::builder()
///     .base_url(emulator.url())
///     .auth(AuthProvider::system_user_auth("RootPass123!"))
///     .build()?;
/// let row: Row = kalam_client::query_as("SELECT 7 AS n, 'x' AS s").fetch_one(&client).await?;
/// assert_eq!(row.get::<i64, _>("n"), 7);
/// assert_eq!(row.try_get::<String, _>(1)?, "x");
/// assert!(row.try_get::<i64, _>("missing").is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[SchemaField]>,
    cells: Vec<Box<RawValue>>,
}

impl Row {
    /// The result columns.
    pub fn columns(&self) -> &[SchemaField] {
        &self.columns
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// True when the row has no cells.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The columns and the raw cells, in result order (for the live snapshot, which keeps the
    /// cells without copying them).
    pub(crate) fn into_parts(self) -> (Arc<[SchemaField]>, Vec<Box<RawValue>>) {
        (self.columns, self.cells)
    }

    /// The raw JSON text of a cell.
    pub fn raw_json<I: RowIndex>(&self, index: I) -> Option<&str> {
        index
            .index(&self.columns)
            .and_then(|i| self.cells.get(i))
            .map(|c| c.get())
    }

    /// Decodes a cell.
    pub fn try_get<T: FromCell, I: RowIndex>(&self, index: I) -> Result<T> {
        let pos = index
            .index(&self.columns)
            .filter(|p| *p < self.cells.len())
            .ok_or_else(|| {
                Error::decode(
                    format!("{index:?}"),
                    T::EXPECTED,
                    format!(
                        "no such column (row has: {})",
                        self.columns
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        let field = &self.columns[pos];
        T::from_cell(&Cell::new(
            self.cells[pos].get(),
            &field.name,
            Some(field.data_type),
        ))
    }

    /// Decodes a cell.
    ///
    /// # Panics
    ///
    /// When the column does not exist or the cell does not decode into `T`; use
    /// [`Row::try_get`] to get the error instead.
    #[track_caller]
    #[allow(clippy::panic, reason = "documented panicking twin of try_get")]
    pub fn get<T: FromCell, I: RowIndex>(&self, index: I) -> T {
        match self.try_get(index) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }
}

impl KalamRow for Row {
    fn columns() -> &'static [ColumnSpec] {
        &[]
    }
    fn from_row(row: &RowRef<'_>) -> Result<Self> {
        Ok(Row {
            columns: Arc::clone(row.schema),
            cells: row.cells.iter().map(|c| (*c).to_owned()).collect(),
        })
    }
}
