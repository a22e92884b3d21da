//! Items that macro expansions call. Not a public API: no stability guarantees.

pub use crate::decode::{Cell, FromCell};
pub use crate::encode::{QueryParam, ToParam};
pub use crate::error::{Error, Result};
pub use crate::row::{ColumnSpec, KalamRow, RowRef};
pub use kalam_schema::SqlType;

/// Decodes a captured `/v1/api/sql` success body into rows of `T` (the first row set), as
/// the fetch verbs do. Used by benchmarks and tests.
pub fn decode_rows<T: KalamRow>(body: &[u8]) -> Result<Vec<T>> {
    crate::envelope::decode_envelope::<T>(body).map(|d| d.rows)
}
