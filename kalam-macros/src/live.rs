//! `live!(client, Type, "SELECT … FROM ns.t WHERE col = {value}" [, filter = server])`: the
//! live-query shape checked as the server restricts it, the WHERE checked for its filter mode
//! (exact, the default: the client's evaluator supports it; `filter = server`: the server's
//! live filter delivers it), `{value}`s typed by their column and rendered as literals at run
//! time (subscriptions take no bind parameters). The result is a `LiveSql<T>` bound to the
//! client: awaiting it subscribes and yields the typed `LiveRows<T>` stream.

use kalam_schema::SqlType;
use kalam_schema::filter::{EXACT_MODE_HELP, FilterMode};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Token, Type};

use crate::schema;
use crate::sqltype;

struct Input {
    client: Expr,
    target: Type,
    lit: LitStr,
    mode: FilterMode,
}

/// The help of a server-mode filter error, in the macro's terms.
const SERVER_MODE_HELP: &str =
    "remove `filter = server`: exact mode (the default) evaluates this filter on the client";

fn parse_input(input: ParseStream<'_>) -> syn::Result<Input> {
    let client = input.parse()?;
    input.parse::<Token![,]>()?;
    let target = input.parse()?;
    input.parse::<Token![,]>()?;
    let lit = input.parse()?;
    let mut mode = FilterMode::Exact;
    if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
        let key: Ident = input.parse()?;
        if key != "filter" {
            return Err(syn::Error::new(
                key.span(),
                "unknown live! option: expected `filter = exact` or `filter = server`",
            ));
        }
        input.parse::<Token![=]>()?;
        let value: Ident = input.parse()?;
        mode = match value.to_string().as_str() {
            "exact" => FilterMode::Exact,
            "server" => FilterMode::Server,
            _ => {
                return Err(syn::Error::new(
                    value.span(),
                    "`filter` is `exact` (the client evaluates the WHERE, the default) or \
                     `server` (the server's live filter does)",
                ));
            }
        };
        let _ = input.parse::<Option<Token![,]>>()?;
    }
    Ok(Input {
        client,
        target,
        lit,
        mode,
    })
}

/// The SQL split at its `{value}` holes (outside quotes): pieces around them and the hole
/// texts with their byte ranges.
pub(crate) fn split_holes(sql: &str) -> (Vec<String>, Vec<(String, std::ops::Range<usize>)>) {
    let mut pieces = vec![String::new()];
    let mut holes = Vec::new();
    let mut quote: Option<char> = None;
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '{') => {
                if let Some(end) = sql[i..].find('}') {
                    let inner = sql[i + 1..i + end].trim().to_owned();
                    holes.push((inner, i..i + end + 1));
                    pieces.push(String::new());
                    while chars.peek().is_some_and(|(j, _)| *j <= i + end) {
                        chars.next();
                    }
                    continue;
                }
            }
            (None, _) => {}
        }
        if let Some(last) = pieces.last_mut() {
            last.push(c);
        }
    }
    (pieces, holes)
}

/// `sql` with every hole replaced by `fill(k)` padded to the hole's width, so positions in
/// error messages match the text the user wrote.
fn fill_holes(
    sql: &str,
    holes: &[(String, std::ops::Range<usize>)],
    fill: impl Fn(usize) -> String,
) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    for (k, (_, range)) in holes.iter().enumerate() {
        out.push_str(&sql[at..range.start]);
        let text = fill(k);
        let width = range.len();
        out.push_str(&text);
        out.push_str(&" ".repeat(width.saturating_sub(text.len())));
        at = range.end;
    }
    out.push_str(&sql[at..]);
    out
}

/// Entry point.
pub(crate) fn expand_macro(tokens: TokenStream) -> syn::Result<TokenStream> {
    let input = parse_input.parse2(tokens)?;
    expand(&input)
}

fn expand(input: &Input) -> syn::Result<TokenStream> {
    let span = input.lit.span();
    let sql = input.lit.value();
    let (pieces, holes) = split_holes(&sql);
    let mut exprs = Vec::new();
    for (text, _) in &holes {
        let e: Expr = syn::parse_str(text).map_err(|_| {
            syn::Error::new(
                span,
                format!("`{{{text}}}` in live! SQL is not a Rust expression"),
            )
        })?;
        exprs.push(e);
    }
    let schema = schema::load(span)?;
    // Shape, types and the WHERE for its filter mode, with `$n` in each hole (same width).
    let param_sql = fill_holes(&sql, &holes, |k| format!("${}", k + 1));
    if param_sql.len() != sql.len() {
        // Positions in the checked text must be positions in the SQL as written.
        return Err(syn::Error::new(
            span,
            "write each `{value}` hole with at least as many characters as its `$n` (for \
             instance `{ x }` instead of `{x}` from the tenth value on)",
        ));
    }
    let (live, desc) =
        kalam_schema::check_live(schema.catalog(), &param_sql, input.mode).map_err(|mut e| {
            if let Some(help) = &mut e.suggestion {
                *help = help.replacen(EXACT_MODE_HELP, SERVER_MODE_HELP, 1);
            }
            // Messages quote the checked text: show each `$n` as the `{value}` written.
            for (k, (text, _)) in holes.iter().enumerate().rev() {
                let (param, hole) = (format!("${}", k + 1), format!("{{{text}}}"));
                e.message = e.message.replace(&param, &hole);
                if let Some(help) = &mut e.suggestion {
                    *help = help.replace(&param, &hole);
                }
            }
            schema::sql_error(span, &sql, &e)
        })?;
    let p = quote!(::kalam_client::__private);
    let mut values = Vec::new();
    for (k, (e, (text, _))) in exprs.iter().zip(&holes).enumerate() {
        let Some(param) = desc.params.get(k) else {
            return Err(syn::Error::new(
                span,
                format!(
                    "`{{{text}}}` has no column to take its type from; compare it with a column"
                ),
            ));
        };
        if matches!(param.ty, SqlType::Bytes | SqlType::Embedding(_)) {
            return Err(syn::Error::new(
                span,
                format!(
                    "`{{{text}}}` is compared with a {} column, which has no literal form the live \
                     filter evaluates; filter on another column",
                    param.ty.sql_name()
                ),
            ));
        }
        let check_fn = sqltype::check_fn(param.ty);
        let ty = sqltype::sql_type_value(param.ty);
        let index = k + 1;
        let check = quote_spanned!(e.span()=> #p::#check_fn(__arg););
        values.push(quote! {{
            let __arg = &(#e);
            #check
            #p::live_literal(#index, __arg, #ty)
        }});
    }
    let namespaces = piece_namespaces(&desc.namespace_refs, &holes, sql.len());
    let target = &input.target;
    // An explicit projection is read like query_as! reads it; `SELECT *` may be read in part.
    let checks =
        crate::query::shape_checks("live!", target, &desc.columns, &[], live.columns.is_some());
    let table_check = table_check(target, &desc);
    let client = &input.client;
    let includes = schema.include_statement(&desc.tables);
    let client_ref =
        quote_spanned!(client.span()=> let __client: &::kalam_client::KalamClient = &(#client););
    let server = match input.mode {
        FilterMode::Server => {
            quote!(.with_filter_mode(::kalam_client::live::FilterMode::Server))
        }
        _ => TokenStream::new(),
    };
    Ok(quote! {{
        #includes
        #checks
        #table_check
        #client_ref
        #p::live_sql::<#target>(__client, &[#(#pieces),*], &[#(#namespaces),*], ::std::vec![#(#values),*])#server
    }})
}

/// The namespace identifiers (byte ranges of the SQL as written: the checked text has each
/// hole padded to its width) as `(piece, start, end)` within the pieces between the holes.
fn piece_namespaces(
    refs: &[std::ops::Range<usize>],
    holes: &[(String, std::ops::Range<usize>)],
    len: usize,
) -> Vec<TokenStream> {
    let mut bounds = Vec::with_capacity(holes.len() + 1);
    let mut at = 0;
    for (_, hole) in holes {
        bounds.push(at..hole.start);
        at = hole.end;
    }
    bounds.push(at..len);
    refs.iter()
        .filter_map(|r| {
            let k = bounds
                .iter()
                .position(|b| b.start <= r.start && r.end <= b.end)?;
            let (p, s, e) = (
                crate::query::lit_u32(k),
                crate::query::lit_u32(r.start - bounds[k].start),
                crate::query::lit_u32(r.end - bounds[k].start),
            );
            Some(quote!((#p, #s, #e)))
        })
        .collect()
}

/// With `#[kalam(table = …)]` on the row type, the query must read that table.
fn table_check(target: &Type, desc: &kalam_schema::QueryDescription) -> TokenStream {
    let p = quote!(::kalam_client::__private);
    let Some(table) = desc.tables.first() else {
        return TokenStream::new();
    };
    let qualified = format!("{}.{}", table.namespace, table.name);
    let message = format!(
        "live!: `{}` is declared for another table with #[kalam(table = …)], but this query \
         subscribes to {qualified}",
        crate::row::type_text(target)
    );
    quote_spanned! {target.span()=>
        const _: () = ::core::assert!(
            #p::table_matches(<#target as #p::KalamShape>::TABLE, #qualified),
            #message
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_outside_quotes() {
        let sql = "SELECT * FROM a.t WHERE room = {room} AND s = '{x}' AND n > {self.n}";
        let (pieces, holes) = split_holes(sql);
        assert_eq!(holes.len(), 2);
        assert_eq!(holes[0].0, "room");
        assert_eq!(holes[1].0, "self.n");
        assert_eq!(pieces.len(), 3);
        assert!(pieces[1].contains("'{x}'"));
        let filled = fill_holes(sql, &holes, |k| format!("${}", k + 1));
        assert_eq!(filled.len(), sql.len());
        assert!(filled.contains("room = $1     AND"), "{filled}");
    }
}
