//! Items that macro expansions call. Not a public API: no stability guarantees.

pub use crate::decode::{Cell, FromCell};
pub use crate::encode::{QueryParam, ToParam};
pub use crate::error::{Error, Result};
pub use crate::row::{ColumnSpec, KalamRow, RowRef};
pub use kalam_schema::SqlType;

// Support for the expansions of kalam-macros (see `crate::macros`).
pub use crate::macros::param::*;
pub use crate::macros::{
    CheckedQuery, FieldShape, KalamShape, KalamTable, LiveSql, ShapeCheck, Statement,
    concat_columns, expected_accepted, get_or_default, live_literal, live_sql, read_column,
    shape_check, shape_reads_other, sub_row, table_matches,
};
pub use crate::types::Json;
pub use kalam_schema::TableKind;

/// Decodes a captured `/v1/api/sql` success body into rows of `T` (the first row set), as
/// the fetch verbs do. Used by benchmarks and tests.
pub fn decode_rows<T: KalamRow>(body: &[u8]) -> Result<Vec<T>> {
    let mut rows = Vec::new();
    crate::envelope::decode_rows(body, T::columns(), &mut rows)?;
    Ok(rows)
}
