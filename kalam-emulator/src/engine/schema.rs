//! Result-schema metadata (protocol 1.7): Arrow fields → `SchemaField` JSON.

use std::fmt::Write as _;

use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::encode::write_str;

/// Field-metadata key holding the column's KalamDataType JSON.
pub(crate) const META_TYPE: &str = "kalam_data_type";
/// Field-metadata key holding the column's flags, comma separated (`pk,nn,uq`).
pub(crate) const META_FLAGS: &str = "kalam_flags";

/// The KalamDataType JSON for a result field: the metadata entry when present, else derived
/// from the Arrow type ("anything else → Text").
pub(crate) fn data_type_json(field: &Field) -> String {
    if let Some(t) = field.metadata().get(META_TYPE) {
        return t.clone();
    }
    arrow_to_kalam(field.data_type())
}

/// The KalamDataType JSON the server derives from an Arrow type.
pub(crate) fn arrow_to_kalam(dt: &DataType) -> String {
    let simple = |s: &str| format!("\"{s}\"");
    match dt {
        DataType::Boolean => simple("Boolean"),
        DataType::Int16 => simple("SmallInt"),
        DataType::Int32 => simple("Int"),
        DataType::Int64 => simple("BigInt"),
        DataType::Float32 => simple("Float"),
        DataType::Float64 => simple("Double"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => simple("Text"),
        DataType::Timestamp(_, Some(tz)) if tz.as_ref() == "UTC" => simple("DateTime"),
        DataType::Timestamp(_, _) => simple("Timestamp"),
        DataType::Date32 | DataType::Date64 => simple("Date"),
        DataType::Time32(_) | DataType::Time64(_) => simple("Time"),
        DataType::FixedSizeBinary(16) => simple("Uuid"),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => simple("Bytes"),
        DataType::Decimal128(p, s) => {
            format!("{{\"Decimal\":{{\"precision\":{p},\"scale\":{s}}}}}")
        }
        DataType::FixedSizeList(f, n) if f.data_type() == &DataType::Float32 => {
            format!("{{\"Embedding\":{n}}}")
        }
        _ => simple("Text"),
    }
}

/// The `schema` array of a result.
pub(crate) fn schema_json(schema: &Schema) -> String {
    let mut out = String::from("[");
    for (i, f) in schema.fields().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        write_str(&mut out, f.name());
        let _ = write!(out, ",\"data_type\":{},\"index\":{i}", data_type_json(f));
        if let Some(flags) = f.metadata().get(META_FLAGS).filter(|s| !s.is_empty()) {
            out.push_str(",\"flags\":[");
            for (k, fl) in flags.split(',').enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_str(&mut out, fl);
            }
            out.push(']');
        }
        out.push('}');
    }
    out.push(']');
    out
}
