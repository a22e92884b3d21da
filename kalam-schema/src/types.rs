//! The one type table: KalamDB SQL type ↔ wire encoding ↔ Rust type.
//!
//! Every other crate asks this module. The macros use [`SqlType::rust_type`] to type record
//! fields, the client decodes cells by [`SqlType::wire_encoding`], codegen writes
//! [`SqlType::sql_name`], and the emulator encodes cells and reports `data_type` with
//! [`SqlType::wire_name`].

use std::fmt;

/// A KalamDB column type (`KalamDataType`, protocol 1.7).
///
/// ```
/// use kalam_schema::SqlType;
/// let t = SqlType::Decimal { precision: 10, scale: 2 };
/// assert_eq!(t.sql_name(), "DECIMAL(10, 2)");
/// assert_eq!(SqlType::from_sql_name("decimal(10,2)"), Some(t));
/// assert_eq!(SqlType::from_sql_name("INT8"), Some(SqlType::BigInt));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// `BOOLEAN`
    Boolean,
    /// `SMALLINT` (i16)
    SmallInt,
    /// `INT` (i32)
    Int,
    /// `BIGINT` (i64)
    BigInt,
    /// `FLOAT` (f32)
    Float,
    /// `DOUBLE` (f64)
    Double,
    /// `TEXT`
    Text,
    /// `TIMESTAMP` (µs since epoch, no time zone)
    Timestamp,
    /// `DATE` (days since epoch)
    Date,
    /// `DATETIME` (µs since epoch, UTC)
    DateTime,
    /// `TIME` (µs since midnight)
    Time,
    /// `JSON`
    Json,
    /// `BYTES`
    Bytes,
    /// `EMBEDDING(n)`: a vector of `n` f32.
    Embedding(u32),
    /// `UUID`
    Uuid,
    /// `DECIMAL(p, s)`
    Decimal {
        /// Total digits, 1–38.
        precision: u8,
        /// Digits after the point, ≤ precision.
        scale: u8,
    },
    /// `FILE`: a stored file reference.
    File,
}

/// How a cell of a given type is encoded in JSON (protocol 1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireEncoding {
    /// JSON `true`/`false`.
    Bool,
    /// JSON number holding an integer (SMALLINT, INT).
    Integer,
    /// Decimal string (`"9007199254740993"`); decoders also accept a number.
    Int64String,
    /// JSON number (f32 widened to f64).
    Float,
    /// JSON string.
    String,
    /// Decimal string with exactly `scale` fraction digits.
    DecimalString,
    /// JSON number: microseconds since the Unix epoch.
    TimestampMicros,
    /// JSON number: days since the Unix epoch.
    DateDays,
    /// JSON number: microseconds since midnight.
    TimeMicros,
    /// Canonical lower-case hyphenated UUID string.
    UuidString,
    /// A string holding JSON text.
    JsonText,
    /// An array of numbers 0–255.
    ByteArray,
    /// An array of numbers.
    FloatArray,
    /// A string holding FileRef JSON.
    FileRefText,
}

impl SqlType {
    /// The SQL spelling used in `system.columns.data_type` and in generated DDL.
    pub fn sql_name(self) -> String {
        match self {
            SqlType::Embedding(n) => format!("EMBEDDING({n})"),
            SqlType::Decimal { precision, scale } => format!("DECIMAL({precision}, {scale})"),
            other => other.simple_name().to_owned(),
        }
    }

    fn simple_name(self) -> &'static str {
        match self {
            SqlType::Boolean => "BOOLEAN",
            SqlType::SmallInt => "SMALLINT",
            SqlType::Int => "INT",
            SqlType::BigInt => "BIGINT",
            SqlType::Float => "FLOAT",
            SqlType::Double => "DOUBLE",
            SqlType::Text => "TEXT",
            SqlType::Timestamp => "TIMESTAMP",
            SqlType::Date => "DATE",
            SqlType::DateTime => "DATETIME",
            SqlType::Time => "TIME",
            SqlType::Json => "JSON",
            SqlType::Bytes => "BYTES",
            SqlType::Uuid => "UUID",
            SqlType::File => "FILE",
            SqlType::Embedding(_) => "EMBEDDING",
            SqlType::Decimal { .. } => "DECIMAL",
        }
    }

    /// The `data_type` name in result schemas (`"BigInt"`, or `Embedding`/`Decimal` objects,
    /// see [`SqlType::wire_json`]).
    pub fn wire_name(self) -> &'static str {
        match self {
            SqlType::Boolean => "Boolean",
            SqlType::SmallInt => "SmallInt",
            SqlType::Int => "Int",
            SqlType::BigInt => "BigInt",
            SqlType::Float => "Float",
            SqlType::Double => "Double",
            SqlType::Text => "Text",
            SqlType::Timestamp => "Timestamp",
            SqlType::Date => "Date",
            SqlType::DateTime => "DateTime",
            SqlType::Time => "Time",
            SqlType::Json => "Json",
            SqlType::Bytes => "Bytes",
            SqlType::Embedding(_) => "Embedding",
            SqlType::Uuid => "Uuid",
            SqlType::Decimal { .. } => "Decimal",
            SqlType::File => "File",
        }
    }

    /// The JSON text of this type as a result schema's `data_type` (serde externally tagged):
    /// `"BigInt"`, `{"Embedding":384}`, `{"Decimal":{"precision":10,"scale":2}}`.
    ///
    /// ```
    /// use kalam_schema::SqlType;
    /// assert_eq!(SqlType::Embedding(3).wire_json(), r#"{"Embedding":3}"#);
    /// assert_eq!(SqlType::Text.wire_json(), r#""Text""#);
    /// ```
    pub fn wire_json(self) -> String {
        match self {
            SqlType::Embedding(n) => format!("{{\"Embedding\":{n}}}"),
            SqlType::Decimal { precision, scale } => {
                format!("{{\"Decimal\":{{\"precision\":{precision},\"scale\":{scale}}}}}")
            }
            other => format!("\"{}\"", other.wire_name()),
        }
    }

    /// Parses the simple (payload-free) wire names: `"BigInt"` → `BigInt`. `Embedding` and
    /// `Decimal` carry a payload and are built by the caller from the JSON object.
    pub fn from_wire_name(name: &str) -> Option<SqlType> {
        Some(match name {
            "Boolean" => SqlType::Boolean,
            "SmallInt" => SqlType::SmallInt,
            "Int" => SqlType::Int,
            "BigInt" => SqlType::BigInt,
            "Float" => SqlType::Float,
            "Double" => SqlType::Double,
            "Text" => SqlType::Text,
            "Timestamp" => SqlType::Timestamp,
            "Date" => SqlType::Date,
            "DateTime" => SqlType::DateTime,
            "Time" => SqlType::Time,
            "Json" => SqlType::Json,
            "Bytes" => SqlType::Bytes,
            "Uuid" => SqlType::Uuid,
            "File" => SqlType::File,
            _ => return None,
        })
    }

    /// Parses a SQL type spelling, including every alias the server maps (protocol 7.3).
    /// Returns `None` for types the server rejects (`TINYINT`, `NUMERIC`, `INTERVAL`, …) and for
    /// unknown names.
    pub fn from_sql_name(name: &str) -> Option<SqlType> {
        let compact: String = name
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let (base, args) = match compact.find('(') {
            Some(open) if compact.ends_with(')') => (
                &compact[..open],
                Some(&compact[open + 1..compact.len() - 1]),
            ),
            Some(_) => return None,
            None => (compact.as_str(), None),
        };
        let nums = |args: Option<&str>| -> Option<Vec<u32>> {
            match args {
                None => Some(Vec::new()),
                Some(a) => a.split(',').map(|p| p.parse::<u32>().ok()).collect(),
            }
        };
        let simple = |t: SqlType| -> Option<SqlType> { args.is_none().then_some(t) };
        match base {
            "SMALLINT" | "INT2" | "SMALLSERIAL" | "SERIAL2" => simple(SqlType::SmallInt),
            "INT" | "INTEGER" | "INT4" | "MEDIUMINT" | "SERIAL" | "SERIAL4" | "SIGNED" => {
                simple(SqlType::Int)
            }
            "BIGINT" | "INT8" | "INT64" | "BIGSERIAL" | "SERIAL8" => simple(SqlType::BigInt),
            "FLOAT" | "REAL" | "FLOAT4" => simple(SqlType::Float),
            "DOUBLE" | "DOUBLEPRECISION" | "FLOAT8" | "FLOAT64" => simple(SqlType::Double),
            "BOOLEAN" | "BOOL" => simple(SqlType::Boolean),
            "TEXT" | "STRING" | "CLOB" | "CHARACTERVARYING" | "NVARCHAR" | "VARCHAR" | "CHAR"
            | "CHARACTER" => Some(SqlType::Text),
            "JSON" | "JSONB" => simple(SqlType::Json),
            "BYTES" | "BYTEA" | "BLOB" | "BINARY" | "VARBINARY" => Some(SqlType::Bytes),
            "DATE" => simple(SqlType::Date),
            "TIMESTAMP" => Some(SqlType::Timestamp),
            "DATETIME" => simple(SqlType::DateTime),
            "TIME" => simple(SqlType::Time),
            "UUID" => simple(SqlType::Uuid),
            "FILE" => simple(SqlType::File),
            "EMBEDDING" => match nums(args)?.as_slice() {
                [n] if (1..=8192).contains(n) => Some(SqlType::Embedding(*n)),
                _ => None,
            },
            "DECIMAL" => {
                let (precision, scale) = match nums(args)?.as_slice() {
                    [] => (38, 10),
                    [p] => (*p, 0),
                    [p, s] => (*p, *s),
                    _ => return None,
                };
                if !(1..=38).contains(&precision) || scale > precision {
                    return None;
                }
                Some(SqlType::Decimal {
                    precision: u8::try_from(precision).ok()?,
                    scale: u8::try_from(scale).ok()?,
                })
            }
            _ => None,
        }
    }

    /// How cells of this type travel in JSON (protocol 1.8).
    pub fn wire_encoding(self) -> WireEncoding {
        match self {
            SqlType::Boolean => WireEncoding::Bool,
            SqlType::SmallInt | SqlType::Int => WireEncoding::Integer,
            SqlType::BigInt => WireEncoding::Int64String,
            SqlType::Float | SqlType::Double => WireEncoding::Float,
            SqlType::Text => WireEncoding::String,
            SqlType::Decimal { .. } => WireEncoding::DecimalString,
            SqlType::Timestamp | SqlType::DateTime => WireEncoding::TimestampMicros,
            SqlType::Date => WireEncoding::DateDays,
            SqlType::Time => WireEncoding::TimeMicros,
            SqlType::Uuid => WireEncoding::UuidString,
            SqlType::Json => WireEncoding::JsonText,
            SqlType::Bytes => WireEncoding::ByteArray,
            SqlType::Embedding(_) => WireEncoding::FloatArray,
            SqlType::File => WireEncoding::FileRefText,
        }
    }

    /// The Rust type, as a path relative to the `kalam_client` crate root, that a non-null
    /// value of this type decodes into by default. Nullable columns wrap it in `Option<_>`
    /// (see [`rust_type_for`]).
    ///
    /// ```
    /// use kalam_schema::SqlType;
    /// assert_eq!(SqlType::BigInt.rust_type(), "i64");
    /// assert_eq!(SqlType::Decimal { precision: 10, scale: 2 }.rust_type(), "::kalam_client::types::Decimal");
    /// ```
    pub fn rust_type(self) -> &'static str {
        match self {
            SqlType::Boolean => "bool",
            SqlType::SmallInt => "i16",
            SqlType::Int => "i32",
            SqlType::BigInt => "i64",
            SqlType::Float => "f32",
            SqlType::Double => "f64",
            SqlType::Text => "::std::string::String",
            SqlType::Timestamp => "::kalam_client::types::Timestamp",
            SqlType::Date => "::kalam_client::types::Date",
            SqlType::DateTime => "::kalam_client::types::DateTime",
            SqlType::Time => "::kalam_client::types::Time",
            SqlType::Json => "::kalam_client::types::JsonValue",
            SqlType::Bytes => "::std::vec::Vec<u8>",
            SqlType::Embedding(_) => "::std::vec::Vec<f32>",
            SqlType::Uuid => "::kalam_client::types::Uuid",
            SqlType::Decimal { .. } => "::kalam_client::types::Decimal",
            SqlType::File => "::kalam_client::types::FileRef",
        }
    }

    /// True for the numeric types (SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            SqlType::SmallInt
                | SqlType::Int
                | SqlType::BigInt
                | SqlType::Float
                | SqlType::Double
                | SqlType::Decimal { .. }
        )
    }

    /// True for the integer types (SMALLINT, INT, BIGINT).
    pub fn is_integer(self) -> bool {
        matches!(self, SqlType::SmallInt | SqlType::Int | SqlType::BigInt)
    }

    /// True for types whose values are strings in SQL (TEXT, JSON, FILE, UUID).
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            SqlType::Text | SqlType::Json | SqlType::File | SqlType::Uuid
        )
    }

    /// True for TIMESTAMP, DATETIME, DATE and TIME.
    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            SqlType::Timestamp | SqlType::DateTime | SqlType::Date | SqlType::Time
        )
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql_name())
    }
}

/// The Rust type for a column: [`SqlType::rust_type`], wrapped in `Option<_>` when nullable.
///
/// ```
/// use kalam_schema::{rust_type_for, SqlType};
/// assert_eq!(rust_type_for(SqlType::Int, true), "::std::option::Option<i32>");
/// assert_eq!(rust_type_for(SqlType::Int, false), "i32");
/// ```
pub fn rust_type_for(ty: SqlType, nullable: bool) -> String {
    if nullable {
        format!("::std::option::Option<{}>", ty.rust_type())
    } else {
        ty.rust_type().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[SqlType] = &[
        SqlType::Boolean,
        SqlType::SmallInt,
        SqlType::Int,
        SqlType::BigInt,
        SqlType::Float,
        SqlType::Double,
        SqlType::Text,
        SqlType::Timestamp,
        SqlType::Date,
        SqlType::DateTime,
        SqlType::Time,
        SqlType::Json,
        SqlType::Bytes,
        SqlType::Embedding(384),
        SqlType::Uuid,
        SqlType::Decimal {
            precision: 10,
            scale: 2,
        },
        SqlType::File,
    ];

    #[test]
    fn sql_names_round_trip() {
        for t in ALL {
            assert_eq!(SqlType::from_sql_name(&t.sql_name()), Some(*t), "{t:?}");
        }
    }

    #[test]
    fn wire_names_round_trip_for_simple_types() {
        for t in ALL {
            if let Some(back) = SqlType::from_wire_name(t.wire_name()) {
                assert_eq!(back, *t);
            } else {
                assert!(matches!(t, SqlType::Embedding(_) | SqlType::Decimal { .. }));
            }
        }
    }

    #[test]
    fn aliases_map_as_the_server_does() {
        let cases = [
            ("int2", SqlType::SmallInt),
            ("SERIAL", SqlType::Int),
            ("bigserial", SqlType::BigInt),
            ("REAL", SqlType::Float),
            ("double precision", SqlType::Double),
            ("VARCHAR(255)", SqlType::Text),
            ("jsonb", SqlType::Json),
            ("bytea", SqlType::Bytes),
            ("TIMESTAMP(3)", SqlType::Timestamp),
            (
                "DECIMAL",
                SqlType::Decimal {
                    precision: 38,
                    scale: 10,
                },
            ),
            (
                "DECIMAL(5)",
                SqlType::Decimal {
                    precision: 5,
                    scale: 0,
                },
            ),
        ];
        for (name, ty) in cases {
            assert_eq!(SqlType::from_sql_name(name), Some(ty), "{name}");
        }
    }

    #[test]
    fn rejected_types() {
        for name in [
            "TINYINT",
            "INT1",
            "UNSIGNED",
            "INTERVAL",
            "NUMERIC",
            "NUMERIC(10,2)",
            "DECIMAL(39,2)",
            "DECIMAL(5,6)",
            "EMBEDDING(0)",
            "EMBEDDING(8193)",
            "EMBEDDING",
            "INT(",
            "",
        ] {
            assert_eq!(SqlType::from_sql_name(name), None, "{name}");
        }
    }
}
