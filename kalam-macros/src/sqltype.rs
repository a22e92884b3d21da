//! What the macros know about each KalamDB type: its Rust type, its parameter marker and the
//! Rust types (by `FromCell::EXPECTED`) a row field may use for it.

use kalam_schema::SqlType;
use proc_macro2::{Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};

/// The default Rust type for a column (`Option<_>` when nullable), as token trees.
///
/// Token trees rather than a `TokenStream`: interpolating a `TokenStream` into `quote!`
/// makes proc-macro2 hand it to the compiler and splice it (a bridge round trip each time),
/// which, repeated for every column of every `query!` in a debug build (proc macros run
/// unoptimized), cost more than the rest of building the record.
pub(crate) fn rust_type(ty: SqlType, nullable: bool) -> Vec<TokenTree> {
    path_tokens(&kalam_schema::rust_type_for(ty, nullable))
}

/// Tokens of a type path from the type table (`::std::vec::Vec<u8>`): identifiers, `::`,
/// `<`, `>` and `,`. Built directly: parsing a string into tokens makes the compiler lex a
/// new source file, which costs more than the rest of a `query!` expansion.
fn path_tokens(text: &str) -> Vec<TokenTree> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_alphanumeric() || c == '_' {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.extend([TokenTree::Ident(Ident::new(
                &rest[..end],
                Span::call_site(),
            ))]);
            rest = &rest[end..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("::") {
            out.extend([
                TokenTree::Punct(Punct::new(':', Spacing::Joint)),
                TokenTree::Punct(Punct::new(':', Spacing::Alone)),
            ]);
            rest = after;
            continue;
        }
        if matches!(c, '<' | '>' | ',') {
            out.extend([TokenTree::Punct(Punct::new(c, Spacing::Alone))]);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The lower-case name of `ty` in the parameter helpers of `__private` (`__bind_bigint`,
/// `check_bigint`, …).
fn param_name(ty: SqlType) -> &'static str {
    match ty {
        SqlType::Boolean => "boolean",
        SqlType::SmallInt => "smallint",
        SqlType::Int => "int",
        SqlType::BigInt => "bigint",
        SqlType::Float => "float",
        SqlType::Double => "double",
        SqlType::Decimal { .. } => "decimal",
        SqlType::Text => "text",
        SqlType::Timestamp => "timestamp",
        SqlType::DateTime => "datetime",
        SqlType::Date => "date",
        SqlType::Time => "time",
        SqlType::Json => "json",
        SqlType::Bytes => "bytes",
        SqlType::Embedding(_) => "embedding",
        SqlType::Uuid => "uuid",
        SqlType::File => "file",
    }
}

/// `__bind_bigint` for BIGINT, and so on: the function that binds the next parameter of a
/// statement and checks its Rust type against `ty`; spanned at the argument.
pub(crate) fn bind_fn(ty: SqlType, span: proc_macro2::Span) -> Ident {
    Ident::new(&format!("__bind_{}", param_name(ty)), span)
}

/// `check_bigint` for BIGINT, and so on: the type assertion of a `live!` value.
pub(crate) fn check_fn(ty: SqlType) -> Ident {
    format_ident!("check_{}", param_name(ty))
}

/// The `FromCell::EXPECTED` names of the Rust types a field may use to hold a column of `ty`:
/// the default type, wider numeric types, and the ecosystem types behind client features.
pub(crate) fn accepted(ty: SqlType) -> &'static [&'static str] {
    match ty {
        SqlType::Boolean => &["bool"],
        SqlType::SmallInt => &[
            "i16",
            "i32",
            "i64",
            "f32",
            "f64",
            "Decimal",
            "rust_decimal::Decimal",
        ],
        SqlType::Int => &["i32", "i64", "f64", "Decimal", "rust_decimal::Decimal"],
        SqlType::BigInt => &["i64", "Decimal", "rust_decimal::Decimal"],
        SqlType::Float => &["f32", "f64"],
        SqlType::Double => &["f64"],
        SqlType::Decimal { .. } => &["Decimal", "rust_decimal::Decimal"],
        SqlType::Text => &["String"],
        SqlType::Timestamp => &[
            "Timestamp",
            "chrono::NaiveDateTime",
            "time::PrimitiveDateTime",
        ],
        SqlType::DateTime => &[
            "DateTime",
            "Timestamp",
            "chrono::DateTime<Utc>",
            "time::OffsetDateTime",
        ],
        SqlType::Date => &["Date", "chrono::NaiveDate", "time::Date"],
        SqlType::Time => &["Time", "chrono::NaiveTime", "time::Time"],
        SqlType::Json => &["JsonValue", "Json<T>", "String"],
        SqlType::Bytes => &["Vec<u8>"],
        SqlType::Embedding(_) => &["Vec<f32>", "Vec<f64>"],
        SqlType::Uuid => &["Uuid", "uuid::Uuid", "String"],
        SqlType::File => &["FileRef", "Json<T>"],
    }
}

/// `["i64", "Decimal", …]` as a `&[&str]` expression.
pub(crate) fn accepted_tokens(ty: SqlType) -> TokenStream {
    let names = accepted(ty);
    quote!(&[#(#names),*])
}

/// Human list of the accepted Rust types, for messages.
pub(crate) fn accepted_text(ty: SqlType) -> String {
    accepted(ty).join(", ")
}

/// `::kalam_client::__private::SqlType::BigInt` and friends, for runtime rendering.
pub(crate) fn sql_type_value(ty: SqlType) -> TokenStream {
    let base = quote!(::kalam_client::__private::SqlType);
    match ty {
        SqlType::Embedding(n) => quote!(#base::Embedding(#n)),
        SqlType::Decimal { precision, scale } => {
            quote!(#base::Decimal { precision: #precision, scale: #scale })
        }
        other => {
            let name = format!("{other:?}");
            let ident = format_ident!("{name}");
            quote!(#base::#ident)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rust_type_is_always_accepted() {
        for ty in [
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
            SqlType::Embedding(3),
            SqlType::Uuid,
            SqlType::Decimal {
                precision: 10,
                scale: 2,
            },
            SqlType::File,
        ] {
            let path = ty.rust_type();
            let last = path.rsplit("::").next().unwrap_or(path);
            assert!(accepted(ty).contains(&last), "{ty:?}: {last}");
            for nullable in [false, true] {
                // Same tokens as parsing the text (spacing aside: `<` before `::`).
                let squash = |t: TokenStream| t.to_string().replace(' ', "");
                let parsed: TokenStream =
                    kalam_schema::rust_type_for(ty, nullable).parse().unwrap();
                let built: TokenStream = rust_type(ty, nullable).into_iter().collect();
                assert_eq!(squash(built), squash(parsed), "{ty:?}");
            }
            assert!(!sql_type_value(ty).is_empty());
        }
    }
}
