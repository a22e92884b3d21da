//! `query!`, `query_as!`, `query_scalar!`, `query_file!`, `query_file_as!`, `execute_as!`:
//! parse the input, check the SQL against the schema, emit typed code.

pub(crate) mod overrides;

use std::collections::HashSet;

use kalam_schema::{OutputColumn, QueryDescription, QueryKind, TableKind};
use overrides::Override;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Token, Type};

use crate::schema;
use crate::sqltype;

/// Which macro is expanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Record,
    As,
    Scalar,
    FileRecord,
    FileAs,
    ExecuteAs,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Record => "query!",
            Mode::As => "query_as!",
            Mode::Scalar => "query_scalar!",
            Mode::FileRecord => "query_file!",
            Mode::FileAs => "query_file_as!",
            Mode::ExecuteAs => "execute_as!",
        }
    }
}

/// The parsed macro input.
pub(crate) struct Input {
    pub(crate) user: Option<Expr>,
    pub(crate) target: Option<Type>,
    pub(crate) lit: LitStr,
    pub(crate) args: Vec<Expr>,
}

fn parse_input(mode: Mode, input: ParseStream<'_>) -> syn::Result<Input> {
    let user = if mode == Mode::ExecuteAs {
        let e: Expr = input.parse()?;
        input.parse::<Token![,]>()?;
        Some(e)
    } else {
        None
    };
    let target = if matches!(mode, Mode::As | Mode::FileAs) {
        let t: Type = input.parse()?;
        input.parse::<Token![,]>()?;
        Some(t)
    } else {
        None
    };
    let lit: LitStr = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "{} expects the SQL as a string literal{}",
                mode.name(),
                if matches!(mode, Mode::FileRecord | Mode::FileAs) {
                    " (a path relative to the crate's Cargo.toml)"
                } else {
                    ""
                }
            ),
        )
    })?;
    let mut args = Vec::new();
    while !input.is_empty() {
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            break;
        }
        args.push(input.parse()?);
    }
    Ok(Input {
        user,
        target,
        lit,
        args,
    })
}

/// Entry point shared by the query macros.
pub(crate) fn expand_macro(tokens: TokenStream, mode: Mode) -> syn::Result<TokenStream> {
    let input = (|s: ParseStream<'_>| parse_input(mode, s)).parse2(tokens)?;
    expand(mode, &input)
}

/// The SQL text, plus the tokens that make Cargo re-expand when a query file changes.
fn sql_text(mode: Mode, lit: &LitStr) -> syn::Result<(String, TokenStream)> {
    if !matches!(mode, Mode::FileRecord | Mode::FileAs) {
        return Ok((lit.value(), TokenStream::new()));
    }
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    let path = dir.join(lit.value());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        syn::Error::new(
            lit.span(),
            // The path as written, not the absolute one: it reads the same on every machine
            // (and in the UI tests' expected output wherever the target directory lives).
            format!(
                "cannot read query file `{}` (paths are relative to the crate's directory, \
                 CARGO_MANIFEST_DIR): {e}",
                lit.value()
            ),
        )
    })?;
    let abs = path.to_string_lossy().into_owned();
    Ok((
        text,
        quote!(
            const _: &str = ::core::include_str!(#abs);
        ),
    ))
}

/// The expansion, from parsed input.
pub(crate) fn expand(mode: Mode, input: &Input) -> syn::Result<TokenStream> {
    let span = input.lit.span();
    let (original, file_include) = sql_text(mode, &input.lit)?;
    let (sql, found) = overrides::strip(&original);
    let schema = schema::load(span)?;
    let desc = kalam_schema::describe(schema.catalog(), &sql, None)
        .map_err(|e| schema::sql_error(span, &original, &e))?;
    check_execute_as(mode, span, &desc)?;
    let p = private();
    let as_user = input.user.as_ref().map(|u| quote!(.__as_user(#u)));
    let namespaces = namespace_ranges(&desc);
    let statement = bind_args(
        span,
        &desc,
        &input.args,
        quote!(#p::Statement::__new(#sql, &[#(#namespaces),*]) #as_user),
    )?;
    // The schema includes, then any items, then the row type. A record carries the includes
    // as doc attributes; everything else gets them on an empty `let`.
    let includes = || schema.include_statement(&desc.tables);
    let (includes, items, row) = match mode {
        // A statement without output columns (INSERT, UPDATE, DELETE) has no row shape: its
        // row type is `()` (as sqlx does), not an empty struct with three impls to compile.
        Mode::Record | Mode::FileRecord | Mode::ExecuteAs if desc.columns.is_empty() => {
            (includes(), TokenStream::new(), quote!(()))
        }
        Mode::Record | Mode::FileRecord | Mode::ExecuteAs => {
            let docs = schema.include_attrs(&desc.tables);
            let (items, row) = record(span, &desc.columns, &found, docs)?;
            (TokenStream::new(), items, row)
        }
        Mode::Scalar => {
            let [col] = desc.columns.as_slice() else {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "query_scalar! needs exactly one output column, this query has {}",
                        desc.columns.len()
                    ),
                ));
            };
            let ty = column_type(span, col, &found)?;
            (includes(), TokenStream::new(), quote!(#(#ty)*))
        }
        Mode::As | Mode::FileAs => {
            let Some(target) = &input.target else {
                return Err(syn::Error::new(span, "query_as! needs a row type"));
            };
            (
                includes(),
                shape_checks(mode.name(), target, &desc.columns, &found, true),
                quote!(#target),
            )
        }
    };
    // The statement is built untyped, in one nested expression, and wrapped with a struct
    // literal: the builder functions are compiled once for the crate, not once per record
    // type, and the expression adds no locals to the caller's (often async) body.
    Ok(quote! {{
        use ::kalam_client::__private as #p;
        #includes
        #file_include
        #items
        #p::CheckedQuery::<#row> {
            __statement: #statement,
            __row: ::core::marker::PhantomData,
        }
    }})
}

/// `(start, end)` of each namespace identifier in the checked SQL, as unsuffixed literals
/// (what `KalamClientBuilder::map_namespace` renames at run time).
fn namespace_ranges(desc: &QueryDescription) -> Vec<TokenStream> {
    desc.namespace_refs
        .iter()
        .map(|r| {
            let (s, e) = (lit_u32(r.start), lit_u32(r.end));
            quote!((#s, #e))
        })
        .collect()
}

/// An unsuffixed integer literal of a byte offset (SQL literals are far below 4 GiB).
pub(crate) fn lit_u32(n: usize) -> proc_macro2::Literal {
    proc_macro2::Literal::u32_unsuffixed(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The alias a query expansion gives `::kalam_client::__private` (`use … as __kalam;` at the
/// top of its block): a third of the tokens of the full path at each use, and every token a
/// proc macro emits costs build time (see BENCHMARKS.md, kalam-macros). An `Ident`, not a
/// `TokenStream`: interpolating an identifier into `quote!` is a push, interpolating a stream
/// a splice through the compiler bridge.
fn private() -> Ident {
    Ident::new("__kalam", Span::call_site())
}

/// Writes to SHARED tables cannot run as another user (protocol 7.7).
fn check_execute_as(mode: Mode, span: Span, desc: &QueryDescription) -> syn::Result<()> {
    if mode == Mode::ExecuteAs && desc.execute_as.is_some() {
        return Err(syn::Error::new(
            span,
            "execute_as! writes the EXECUTE AS USER envelope itself; pass the inner statement only",
        ));
    }
    if mode != Mode::ExecuteAs && desc.execute_as.is_none() {
        return Ok(());
    }
    let target = match &desc.kind {
        QueryKind::Insert { table } | QueryKind::Update { table } | QueryKind::Delete { table } => {
            table
        }
        _ => return Ok(()),
    };
    if target.kind == TableKind::Shared {
        return Err(syn::Error::new(
            span,
            format!(
                "EXECUTE AS USER is not allowed on SHARED tables (table '{}:{}'): AS USER \
                 impersonation is only supported for USER and STREAM tables; reads are allowed, \
                 write as the caller instead",
                target.namespace, target.name
            ),
        ));
    }
    Ok(())
}

/// `statement` with one typed bind per argument (`__bind_bigint(statement, &(arg))`, …); the
/// count must match `$1..$n`.
fn bind_args(
    span: Span,
    desc: &QueryDescription,
    args: &[Expr],
    statement: TokenStream,
) -> syn::Result<TokenStream> {
    let want = desc.params.len();
    if args.len() > want {
        let extra = &args[want];
        return Err(syn::Error::new(
            extra.span(),
            format!(
                "this query takes {want} argument(s) ({}), but {} were given",
                describe_params(desc),
                args.len()
            ),
        ));
    }
    if args.len() < want {
        return Err(syn::Error::new(
            span,
            format!(
                "this query takes {want} argument(s) ({}), but {} were given",
                describe_params(desc),
                args.len()
            ),
        ));
    }
    Ok(desc
        .params
        .iter()
        .zip(args)
        .fold(statement, |statement, (param, arg)| {
            // Every token of the call is spanned at the argument, so a type mismatch (the
            // column type's parameter trait not implemented) is reported there alone.
            let bind = sqltype::bind_fn(param.ty, arg.span());
            quote_spanned! {arg.span()=>
                ::kalam_client::__private::#bind(#statement, &(#arg))
            }
        }))
}

fn describe_params(desc: &QueryDescription) -> String {
    if desc.params.is_empty() {
        return "no parameters".into();
    }
    desc.params
        .iter()
        .map(|p| format!("${}: {}", p.index, p.ty.sql_name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn find_override<'a>(found: &'a [(String, Override)], name: &str) -> Option<&'a Override> {
    found.iter().find(|(n, _)| n == name).map(|(_, o)| o)
}

fn effective_nullable(col: &OutputColumn, found: &[(String, Override)]) -> bool {
    match find_override(found, &col.name) {
        Some(Override::NotNull) => false,
        Some(Override::Nullable) => true,
        _ => col.nullable,
    }
}

/// The Rust type of an output column, overrides applied.
fn column_type(
    span: Span,
    col: &OutputColumn,
    found: &[(String, Override)],
) -> syn::Result<Vec<TokenTree>> {
    if let Some(Override::Type(text)) = find_override(found, &col.name) {
        let ty: Type = syn::parse_str(text).map_err(|_| {
            syn::Error::new(
                span,
                format!(
                    "`{text}` in the alias of column `{}` is not a Rust type",
                    col.name
                ),
            )
        })?;
        return Ok(quote!(#ty).into_iter().collect());
    }
    Ok(sqltype::rust_type(col.ty, effective_nullable(col, found)))
}

/// A field identifier for an output column name.
fn field_ident(span: Span, name: &str) -> syn::Result<Ident> {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid || matches!(name, "_" | "self" | "Self" | "super" | "crate") {
        return Err(syn::Error::new(
            span,
            format!(
                "output column `{name}` is not a Rust identifier; give it an alias: `… AS some_name`"
            ),
        ));
    }
    // Built directly rather than parsed (see `sqltype::path_tokens`); keywords become raw
    // identifiers (`r#type`).
    if KEYWORDS.contains(&name) {
        return Ok(Ident::new_raw(name, span));
    }
    Ok(Ident::new(name, span))
}

/// Rust keywords (strict and reserved, all editions) that are valid as raw identifiers.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Token trees interpolated into `quote!` by pushing them (a `TokenStream` would be spliced
/// through the compiler bridge; see `sqltype::rust_type`).
struct Tokens(Vec<TokenTree>);

impl quote::ToTokens for Tokens {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.0.iter().cloned());
    }
}

/// The largest tuple that implements `KalamRow` in kalam-client.
pub(crate) const MAX_TUPLE_ROW: usize = 16;

/// The anonymous `Record` struct and its `KalamRow` impl.
fn record(
    span: Span,
    columns: &[OutputColumn],
    found: &[(String, Override)],
    docs: TokenStream,
) -> syn::Result<(TokenStream, TokenStream)> {
    let p = private();
    let mut seen = HashSet::new();
    let mut idents = Vec::with_capacity(columns.len());
    let mut types = Vec::with_capacity(columns.len());
    for col in columns {
        let ident = field_ident(span, &col.name)?;
        if !seen.insert(ident.to_string()) {
            return Err(syn::Error::new(
                span,
                format!(
                    "two output columns are named `{}`; alias one of them",
                    col.name
                ),
            ));
        }
        idents.push(ident);
        types.push(Tokens(column_type(span, col, found)?));
    }
    // Plain table columns keep the strict check of the reported type; computed ones are typed
    // by the engine here and may be reported otherwise (see `ColumnSpec::computed`).
    let specs = columns.iter().zip(&types).map(|(c, ty)| {
        let name = c.name.as_str();
        if c.source.is_some() {
            quote!(#p::ColumnSpec::named::<#ty>(#name))
        } else {
            quote!(#p::ColumnSpec::computed::<#ty>(#name))
        }
    });
    let indices = 0..columns.len();
    let name = format_ident!("Record");
    // The fields' types drive inference: no second copy of the type tokens. Up to the largest
    // tuple `KalamRow` (16 columns), the cells are read by the tuple's decoder, which is
    // compiled once per column-type shape in the crate (and shared with runtime queries of
    // that tuple), and the record only moves the values into place; reading each field with
    // its own `?` made every record compile a ladder of drops for the fields read before a
    // failing one (the largest function a `query!` added). A `match`, not `?`: no
    // `FromResidual` instance per record.
    let from_row = if (1..=MAX_TUPLE_ROW).contains(&columns.len()) {
        let vars: Vec<Ident> = (0..columns.len())
            .map(|k| format_ident!("__c{k}"))
            .collect();
        quote! {
            fn from_row(row: &#p::RowRef<'_>) -> #p::Result<Self> {
                match #p::KalamRow::from_row(row) {
                    ::core::result::Result::Ok((#(#vars,)*)) => ::core::result::Result::Ok(#name { #(#idents: #vars),* }),
                    ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
                }
            }
        }
    } else {
        quote! {
            fn from_row(row: &#p::RowRef<'_>) -> #p::Result<Self> {
                ::core::result::Result::Ok(#name { #(#idents: #p::read_column(row, #indices)?),* })
            }
        }
    };
    // Only where a field name is not snake case (aliases keep their case; the server folds
    // other names): every attribute costs build time.
    let allow = columns
        .iter()
        .any(|c| {
            c.name.chars().any(|ch| ch.is_ascii_uppercase())
                || c.name.trim_matches('_').contains("__")
        })
        .then(|| quote!(#[allow(non_snake_case)]));
    let items = quote! {
        #docs
        #[derive(Debug)]
        #allow
        struct #name { #(pub #idents: #types),* }
        #[automatically_derived]
        impl #p::KalamRow for #name {
            fn columns() -> &'static [#p::ColumnSpec] {
                const { &[#(#specs),*] }
            }
            #from_row
        }
    };
    Ok((items, quote!(#name)))
}

/// `query_as!`: compile-time checks that the row type reads exactly these columns, with
/// compatible nullability and types (via the `KalamShape` the derive writes).
/// With `require_all` false (live! over `SELECT *`), the type may leave columns unread. The
/// system columns `_seq` and `_deleted` (which `SELECT *` returns) may always be left unread:
/// a row type that wants them declares them (`#[kalam(rename = "_seq")] seq: i64`).
/// `who` names the macro in messages.
/// The system columns every table has (protocol 7.4); `SELECT *` returns them.
const SYSTEM_COLUMNS: &[&str] = &["_seq", "_deleted"];

pub(crate) fn shape_checks(
    who: &str,
    target: &Type,
    columns: &[OutputColumn],
    found: &[(String, Override)],
    require_all: bool,
) -> TokenStream {
    let p = quote!(::kalam_client::__private);
    let target_text = crate::row::type_text(target);
    let mut checks = Vec::new();
    for col in columns {
        let name = &col.name;
        let nullable = effective_nullable(col, found);
        let accepted = sqltype::accepted_tokens(col.ty);
        let sql = col.ty.sql_name();
        let missing = format!("{who}: `{target_text}` has no field for column `{name}` ({sql})");
        let require = require_all && !SYSTEM_COLUMNS.contains(&name.as_str());
        let not_option = format!(
            "{who}: column `{name}` may be NULL, so the field of `{target_text}` that reads it \
             must be an Option (or mark the column `\"{name}!\"` in the SQL)"
        );
        let wrong_type = format!(
            "{who}: the field of `{target_text}` that reads column `{name}` cannot hold {sql}; \
             use one of: {}",
            sqltype::accepted_text(col.ty)
        );
        checks.push(quote! {
            match #p::shape_check(<#target as #p::KalamShape>::SHAPE, #name, #nullable, #accepted) {
                #p::ShapeCheck::Ok => {}
                #p::ShapeCheck::Missing => if #require { ::core::panic!(#missing) },
                #p::ShapeCheck::NotOption => ::core::panic!(#not_option),
                #p::ShapeCheck::WrongType => ::core::panic!(#wrong_type),
            }
        });
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let extra = format!(
        "{who}: `{target_text}` reads a column this query does not return (it returns: {})",
        names.join(", ")
    );
    quote_spanned! {target.span()=>
        const _: () = {
            #(#checks)*
            if #p::shape_reads_other(<#target as #p::KalamShape>::SHAPE, &[#(#names),*]) {
                ::core::panic!(#extra);
            }
        };
    }
}
