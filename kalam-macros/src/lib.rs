#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod ctxt;
mod live;
mod query;
mod row;
mod schema;
#[cfg(test)]
mod snapshots;
mod sqltype;

use proc_macro::TokenStream;

/// Runs one expansion and turns its result into tokens.
///
/// Two environment variables help when looking into an expansion: `KALAM_MACROS_DEBUG=1`
/// prints it, and `KALAM_MACROS_TIMING=<file>` appends one line per invocation (macro name,
/// microseconds spent in the macro) to `<file>`.
fn expand(name: &str, run: impl FnOnce() -> syn::Result<proc_macro2::TokenStream>) -> TokenStream {
    let start = std::time::Instant::now();
    let tokens = run().unwrap_or_else(syn::Error::into_compile_error);
    if let Some(path) = std::env::var_os("KALAM_MACROS_TIMING").filter(|p| !p.is_empty()) {
        let line = format!("{name} {}\n", start.elapsed().as_micros());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        // Best effort: a diagnostics aid must never fail the build.
        let _ = file.and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
    }
    if std::env::var_os("KALAM_MACROS_DEBUG").is_some_and(|v| v == "1") {
        eprintln!("--- {name} expansion ---\n{tokens}");
    }
    tokens.into()
}

/// `#[derive(KalamRow)]`: reads a named struct from result rows by column name. See the
/// crate README for the `#[kalam(...)]` attributes.
#[proc_macro_derive(KalamRow, attributes(kalam))]
pub fn derive_kalam_row(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand("KalamRow", || Ok(row::expand_derive(&input)))
}

/// `query!("SQL", args…)`: a checked query returning an anonymous record per row (a
/// statement without output columns, such as an INSERT, has the row type `()`).
///
/// The record is a struct named `Record` with one public field per output column. It derives
/// `Debug` only, as sqlx's records do: every trait impl is compiled once per `query!`, so
/// use `query_as!` with your own `#[derive(KalamRow)]` type for `Clone`, `Serialize` and so on.
#[proc_macro]
pub fn query(input: TokenStream) -> TokenStream {
    expand("query!", || {
        query::expand_macro(input.into(), query::Mode::Record)
    })
}

/// `query_as!(Type, "SQL", args…)`: a checked query returning rows of a `#[derive(KalamRow)]` type.
#[proc_macro]
pub fn query_as(input: TokenStream) -> TokenStream {
    expand("query_as!", || {
        query::expand_macro(input.into(), query::Mode::As)
    })
}

/// `query_scalar!("SQL", args…)`: a checked one-column query.
#[proc_macro]
pub fn query_scalar(input: TokenStream) -> TokenStream {
    expand("query_scalar!", || {
        query::expand_macro(input.into(), query::Mode::Scalar)
    })
}

/// `query_file!("path.sql", args…)`: like `query!`, SQL read from a file relative to the crate.
#[proc_macro]
pub fn query_file(input: TokenStream) -> TokenStream {
    expand("query_file!", || {
        query::expand_macro(input.into(), query::Mode::FileRecord)
    })
}

/// `query_file_as!(Type, "path.sql", args…)`: like `query_as!`, SQL read from a file.
#[proc_macro]
pub fn query_file_as(input: TokenStream) -> TokenStream {
    expand("query_file_as!", || {
        query::expand_macro(input.into(), query::Mode::FileAs)
    })
}

/// `execute_as!(user, "SQL", args…)`: like `query!`, run as another user (`EXECUTE AS USER`);
/// writes to SHARED tables are refused at compile time.
#[proc_macro]
pub fn execute_as(input: TokenStream) -> TokenStream {
    expand("execute_as!", || {
        query::expand_macro(input.into(), query::Mode::ExecuteAs)
    })
}

/// `live!(client, Type, "SELECT … WHERE col = {value}" [, filter = server])`: a validated live
/// query with typed values rendered as safe literals. Exact mode (the default) accepts every
/// WHERE the client's evaluator supports; `filter = server` only those the server's live filter
/// delivers (see the README's table).
#[proc_macro]
pub fn live(input: TokenStream) -> TokenStream {
    expand("live!", || live::expand_macro(input.into()))
}
