//! `#[derive(KalamRow)]`: attributes → model → `impl KalamRow` + `impl KalamShape`
//! (+ `impl KalamTable` and schema checks with `#[kalam(table = "ns.table")]`).

mod attr;

use kalam_schema::Table;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::ctxt::Ctxt;

/// How a field is read.
enum Kind {
    /// One column, decoded as `read_ty` (`value` turns it into the field).
    Column,
    /// `#[kalam(default)]`: by name when present, `Default` otherwise.
    Default,
    /// `#[kalam(skip)]`: always `Default`.
    Skip,
    /// `#[kalam(flatten)]`: a nested row type's columns inline.
    Flatten,
}

struct FieldModel<'a> {
    ident: &'a Ident,
    ty: &'a Type,
    column: String,
    /// Where column errors point: the `rename` literal, else the field name.
    column_span: Span,
    kind: Kind,
    json: bool,
}

/// A type as the user wrote it, for messages (`Option<String>`, not `Option < String >`).
pub(crate) fn type_text(ty: &Type) -> String {
    ty.to_token_stream()
        .to_string()
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" <", "<")
        .replace(" >", ">")
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" ,", ",")
        .replace("& ", "&")
}

/// `T` of `Option<T>`, recognised by the last path segment.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [syn::GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// The derive's expansion; errors become `compile_error!` plus a stub impl.
pub(crate) fn expand_derive(input: &DeriveInput) -> TokenStream {
    match expand_checked(input) {
        Ok(tokens) => tokens,
        Err(e) => {
            let name = &input.ident;
            let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
            let errors = e.into_compile_error();
            quote! {
                #errors
                const _: () = {
                    #[automatically_derived]
                    impl #impl_g ::kalam_client::KalamRow for #name #ty_g #where_c {
                        fn columns() -> &'static [::kalam_client::ColumnSpec] { &[] }
                        fn from_row(_: &::kalam_client::RowRef<'_>) -> ::kalam_client::Result<Self> {
                            ::core::unimplemented!()
                        }
                    }
                };
            }
        }
    }
}

fn expand_checked(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let container = attr::container(&mut cx, &input.attrs);
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => named.named.iter().collect::<Vec<_>>(),
            _ => {
                return Err(syn::Error::new(
                    input.ident.span(),
                    "#[derive(KalamRow)] needs a struct with named fields (tuples already implement KalamRow)",
                ));
            }
        },
        _ => {
            return Err(syn::Error::new(
                input.ident.span(),
                "#[derive(KalamRow)] supports structs with named fields only",
            ));
        }
    };
    let mut models = Vec::new();
    for f in &fields {
        let a = attr::field(&mut cx, f);
        let Some(ident) = &f.ident else { continue };
        let name = ident.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name);
        let (column, column_span) = match &a.rename {
            Some(lit) => (lit.value(), lit.span()),
            None => (
                container
                    .rename_all
                    .map_or_else(|| name.to_owned(), |r| r.apply(name)),
                ident.span(),
            ),
        };
        let kind = if a.skip {
            Kind::Skip
        } else if a.flatten {
            Kind::Flatten
        } else if a.default {
            Kind::Default
        } else {
            Kind::Column
        };
        if a.json && a.default {
            cx.error(
                f,
                "#[kalam(json)] cannot be combined with #[kalam(default)]; use Option<T>",
            );
        }
        models.push(FieldModel {
            ident,
            ty: &f.ty,
            column,
            column_span,
            kind,
            json: a.json,
        });
    }
    let generic = !input.generics.params.is_empty();
    let has_flatten = models.iter().any(|m| matches!(m.kind, Kind::Flatten));
    if generic && has_flatten {
        cx.error(
            &input.generics,
            "#[kalam(flatten)] is not supported on generic structs",
        );
    }
    let krate = container
        .krate
        .as_ref()
        .map_or_else(|| quote!(::kalam_client), |p| p.to_token_stream());
    let table_checks = match &container.table {
        Some(lit) if generic => {
            cx.error(lit, "#[kalam(table)] is not supported on generic structs");
            None
        }
        Some(lit) => table_checks(&mut cx, input, lit, &models, &krate),
        None => None,
    };
    cx.check()?;
    Ok(generate(input, &krate, &models, table_checks))
}

/// The Rust type a column is decoded as (the field type, or `Json<…>` for `#[kalam(json)]`).
fn read_type(m: &FieldModel<'_>, krate: &TokenStream) -> TokenStream {
    let ty = m.ty;
    if !m.json {
        return quote!(#ty);
    }
    match option_inner(ty) {
        Some(inner) => quote!(::core::option::Option<#krate::__private::Json<#inner>>),
        None => quote!(#krate::__private::Json<#ty>),
    }
}

fn generate(
    input: &DeriveInput,
    krate: &TokenStream,
    models: &[FieldModel<'_>],
    table: Option<(TokenStream, String)>,
) -> TokenStream {
    let name = &input.ident;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let p = quote!(#krate::__private);

    // columns(): groups of plain columns between flattened fields.
    let mut parts: Vec<TokenStream> = Vec::new();
    let mut group: Vec<TokenStream> = Vec::new();
    let mut reads = Vec::new();
    let mut shape = Vec::new();
    let mut idents = Vec::new();
    // For the tuple form of `from_row` (see below): each column's read type and the
    // expression that turns the tuple element `__cK` into the field.
    let mut read_tys = Vec::new();
    let mut values = Vec::new();
    for m in models {
        let (ident, ty, col) = (m.ident, m.ty, &m.column);
        idents.push(ident);
        match m.kind {
            Kind::Column => {
                let read_ty = read_type(m, krate);
                group.push(quote!(#p::ColumnSpec::named::<#read_ty>(#col)));
                let unwrap = match (m.json, option_inner(ty).is_some()) {
                    (false, _) => quote!(),
                    (true, false) => quote!(.0),
                    (true, true) => quote!(.map(|__j| __j.0)),
                };
                reads.push(quote! {
                    let #ident = row.get::<#read_ty>(__k)? #unwrap;
                    __k += 1;
                });
                let var = quote::format_ident!("__c{}", read_tys.len());
                values.push(quote!(#var #unwrap));
                read_tys.push(read_ty.clone());
                let nullable = option_inner(ty).is_some();
                shape.push(quote! {
                    #p::FieldShape::Column {
                        name: #col,
                        nullable: #nullable,
                        optional: false,
                        expected: <#read_ty as #p::FromCell>::EXPECTED,
                    }
                });
            }
            Kind::Default => {
                reads.push(quote!(let #ident = #p::get_or_default::<#ty>(row, #col)?;));
                shape.push(quote! {
                    #p::FieldShape::Column {
                        name: #col,
                        nullable: true,
                        optional: true,
                        expected: <#ty as #p::FromCell>::EXPECTED,
                    }
                });
            }
            Kind::Skip => {
                reads.push(quote!(let #ident = ::core::default::Default::default();));
            }
            Kind::Flatten => {
                if !group.is_empty() {
                    parts.push(quote!(&[#(#group),*]));
                    group.clear();
                }
                parts.push(quote!(<#ty as #p::KalamRow>::columns()));
                reads.push(quote! {
                    let __n = <#ty as #p::KalamRow>::columns().len();
                    let #ident = <#ty as #p::KalamRow>::from_row(&#p::sub_row(row, __k, __n))?;
                    __k += __n;
                });
                shape.push(quote!(#p::FieldShape::Flatten(<#ty as #p::KalamShape>::SHAPE)));
            }
        }
    }
    let columns = if parts.is_empty() {
        quote!(const { &[#(#group),*] })
    } else {
        if !group.is_empty() {
            parts.push(quote!(&[#(#group),*]));
        }
        quote! {
            static COLUMNS: ::std::sync::OnceLock<::std::vec::Vec<#p::ColumnSpec>> =
                ::std::sync::OnceLock::new();
            COLUMNS.get_or_init(|| #p::concat_columns(&[#(#parts),*])).as_slice()
        }
    };
    let (table, table_const) = match table {
        Some((tokens, qualified)) => (
            tokens,
            quote!(const TABLE: ::core::option::Option<&'static str> = ::core::option::Option::Some(#qualified);),
        ),
        None => (TokenStream::new(), TokenStream::new()),
    };
    // A struct of plain columns (up to the largest tuple `KalamRow`) is read by the tuple's
    // decoder, compiled once per column-type shape in the crate, and only moves the values
    // into place: reading each field with its own `?` compiles a ladder of drops per struct
    // (as `query!` records do; see BENCHMARKS.md, kalam-macros). The errors are the same,
    // the tuple reading the same columns in the same order.
    let from_row = if values.len() == models.len()
        && (1..=crate::query::MAX_TUPLE_ROW).contains(&values.len())
    {
        let vars = (0..values.len()).map(|k| quote::format_ident!("__c{k}"));
        quote! {
            fn from_row(row: &#p::RowRef<'_>) -> #p::Result<Self> {
                match <(#(#read_tys,)*) as #p::KalamRow>::from_row(row) {
                    ::core::result::Result::Ok((#(#vars,)*)) => {
                        ::core::result::Result::Ok(Self { #(#idents: #values),* })
                    }
                    ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
                }
            }
        }
    } else {
        quote! {
            #[allow(unused_assignments, unused_mut, unused_variables, clippy::redundant_field_names)]
            fn from_row(row: &#p::RowRef<'_>) -> #p::Result<Self> {
                let mut __k: usize = 0;
                #(#reads)*
                ::core::result::Result::Ok(Self { #(#idents),* })
            }
        }
    };
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_g #p::KalamRow for #name #ty_g #where_c {
                fn columns() -> &'static [#p::ColumnSpec] {
                    #columns
                }
                #from_row
            }
            #[automatically_derived]
            impl #impl_g #p::KalamShape for #name #ty_g #where_c {
                const SHAPE: &'static [#p::FieldShape] = &[#(#shape),*];
                #table_const
            }
            #table
        };
    }
}

/// With `#[kalam(table = "ns.table")]`: every field checked against the schema, plus
/// `impl KalamTable`, and the table's qualified name. Problems go into `cx`.
fn table_checks(
    cx: &mut Ctxt,
    input: &DeriveInput,
    lit: &syn::LitStr,
    models: &[FieldModel<'_>],
    krate: &TokenStream,
) -> Option<(TokenStream, String)> {
    let p = quote!(#krate::__private);
    let schema = match crate::schema::load(lit.span()) {
        Ok(s) => s,
        Err(e) => {
            cx.push(e);
            return None;
        }
    };
    let text = lit.value();
    let (ns, name) = text.split_once('.').unwrap_or(("default", text.as_str()));
    let Some(table) = schema.catalog().table(ns, name) else {
        let names: Vec<String> = schema
            .catalog()
            .tables()
            .map(Table::qualified_name)
            .collect();
        let help = kalam_schema::error::nearest(&text, names.iter().map(String::as_str))
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        cx.error(lit, format!("unknown table `{text}` in the schema{help}"));
        return None;
    };
    let qualified = table.qualified_name();
    let mut asserts = Vec::new();
    for m in models {
        if !matches!(m.kind, Kind::Column | Kind::Default) {
            continue;
        }
        let Some(col) = table.column(&m.column) else {
            if matches!(m.kind, Kind::Default) {
                continue;
            }
            let help = kalam_schema::error::nearest(
                &m.column,
                table.columns.iter().map(|c| c.name.as_str()),
            )
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
            cx.push(syn::Error::new(
                m.column_span,
                format!(
                    "no column `{}` in {qualified} (field `{}`){help}",
                    m.column, m.ident
                ),
            ));
            continue;
        };
        let is_option = option_inner(m.ty).is_some();
        if col.nullable && !is_option && matches!(m.kind, Kind::Column) {
            let ty = type_text(m.ty);
            cx.error(
                m.ty,
                format!(
                    "column `{}` of {qualified} is nullable ({}), so field `{}` must be `Option<{ty}>`",
                    col.name,
                    col.ty.sql_name(),
                    m.ident
                ),
            );
            continue;
        }
        let read_ty = read_type(m, krate);
        let accepted = crate::sqltype::accepted_tokens(col.ty);
        let message = format!(
            "field `{}` of type `{}` cannot hold column `{}` of {qualified} ({}); use one of: {}",
            m.ident,
            type_text(m.ty),
            col.name,
            col.ty.sql_name(),
            crate::sqltype::accepted_text(col.ty)
        );
        asserts.push(quote_spanned! {m.ty.span()=>
            const _: () = ::core::assert!(
                #p::expected_accepted(
                    <#read_ty as #p::FromCell>::EXPECTED,
                    #accepted,
                ),
                #message
            );
        });
    }
    let includes = schema.includes(&table.namespace, &table.name);
    let ident = &input.ident;
    let (ns, tname) = (&table.namespace, &table.name);
    let pk = match table.primary_key() {
        Some(c) => {
            let n = &c.name;
            quote!(::core::option::Option::Some(#n))
        }
        None => quote!(::core::option::Option::None),
    };
    let kind = syn::Ident::new(
        match table.kind {
            kalam_schema::TableKind::User => "User",
            kalam_schema::TableKind::Shared => "Shared",
            kalam_schema::TableKind::Stream => "Stream",
            kalam_schema::TableKind::System => "System",
        },
        Span::call_site(),
    );
    let tokens = quote! {
        #includes
        #(#asserts)*
        #[automatically_derived]
        impl #p::KalamTable for #ident {
            const NAMESPACE: &'static str = #ns;
            const TABLE: &'static str = #tname;
            const PRIMARY_KEY: ::core::option::Option<&'static str> = #pk;
            const KIND: #p::TableKind = #p::TableKind::#kind;
        }
    };
    Some((tokens, qualified))
}
