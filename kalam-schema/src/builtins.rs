//! The built-in `system.*` tables used for introspection (protocol 8.1–8.3).

use crate::model::Table;
use crate::types::SqlType;

/// `system.namespaces`, `system.tables` and `system.columns` with the types and nullability
/// the server reports.
pub(crate) fn system_tables() -> Vec<Table> {
    use SqlType::*;
    vec![
        Table::system(
            "namespaces",
            Some("namespace_id"),
            &[
                ("namespace_id", Text, false),
                ("name", Text, false),
                ("created_at", Timestamp, false),
                ("options", Json, true),
                ("table_count", Int, false),
            ],
        ),
        Table::system(
            "tables",
            None,
            &[
                ("namespace_id", Text, false),
                ("table_name", Text, false),
                ("table_type", Text, false),
                ("storage_id", Text, true),
                ("version", BigInt, false),
                ("options", Text, true),
                ("comment", Text, true),
                ("updated_at", Timestamp, false),
                ("created_at", Timestamp, false),
            ],
        ),
        Table::system(
            "columns",
            None,
            &[
                ("namespace_id", Text, false),
                ("table_name", Text, false),
                ("version", BigInt, false),
                ("column_id", BigInt, false),
                ("column_name", Text, false),
                ("comment", Text, true),
                ("data_type", Text, false),
                ("default_value", Text, true),
                ("ordinal", BigInt, false),
                ("nullable", Boolean, false),
                ("primary_key", Boolean, false),
                ("primary_key_pos", BigInt, true),
            ],
        ),
    ]
}
