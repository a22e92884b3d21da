//! Decides every Rust name and type before any token is written: config renames and type
//! overrides, singular struct names, keyword escaping and collision handling.

use std::collections::HashMap;

use kalam_schema::{Catalog, Column, Namespace, Table, Topic, TopicOp};

use crate::config::Config;
use crate::error::{ConfigError, EmitError};
use crate::naming::{self, Names};

/// The Rust side of a whole catalog.
pub(crate) struct Plan<'a> {
    pub(crate) namespaces: Vec<NsPlan<'a>>,
}

pub(crate) struct NsPlan<'a> {
    pub(crate) ns: &'a Namespace,
    pub(crate) module: String,
    pub(crate) tables: Vec<TablePlan<'a>>,
    pub(crate) topics: Vec<TopicPlan<'a>>,
}

pub(crate) struct TablePlan<'a> {
    pub(crate) table: &'a Table,
    pub(crate) row: String,
    pub(crate) insert: String,
    pub(crate) columns_module: String,
    pub(crate) derives: Vec<syn::Path>,
    pub(crate) fields: Vec<FieldPlan<'a>>,
}

pub(crate) struct FieldPlan<'a> {
    pub(crate) column: &'a Column,
    pub(crate) ident: String,
    pub(crate) ty: syn::Type,
}

pub(crate) struct TopicPlan<'a> {
    pub(crate) topic: &'a Topic,
    pub(crate) name: String,
    pub(crate) variants: Vec<VariantPlan>,
}

pub(crate) struct VariantPlan {
    pub(crate) name: String,
    /// `namespace.table`
    pub(crate) table: String,
    /// Path of the row struct, relative to the topic's module.
    pub(crate) path: syn::Path,
    pub(crate) ops: Vec<TopicOp>,
    pub(crate) payload: kalam_schema::PayloadMode,
}

/// Parses type strings once each.
#[derive(Default)]
struct TypeCache {
    parsed: HashMap<String, syn::Type>,
}

impl TypeCache {
    fn get(&mut self, text: &str, nullable: bool) -> Result<syn::Type, EmitError> {
        let full = if nullable {
            format!("::std::option::Option<{text}>")
        } else {
            text.to_owned()
        };
        if let Some(t) = self.parsed.get(&full) {
            return Ok(t.clone());
        }
        let t: syn::Type = syn::parse_str(&full).map_err(|_| EmitError::BadType(full.clone()))?;
        self.parsed.insert(full, t.clone());
        Ok(t)
    }
}

fn parse_path(text: &str) -> Result<syn::Path, crate::Error> {
    syn::parse_str(text).map_err(|_| ConfigError::InvalidDerive(text.to_owned()).into())
}

fn parse_raw_path(text: &str) -> Result<syn::Path, EmitError> {
    syn::parse_str(text).map_err(|_| EmitError::BadType(text.to_owned()))
}

impl<'a> Plan<'a> {
    /// Plans the tables of `catalog` (already filtered, and the config already validated
    /// against the unfiltered catalog) with the settings of `config`.
    pub(crate) fn new(catalog: &'a Catalog, config: &Config) -> Result<Plan<'a>, crate::Error> {
        let global_derives = config
            .derives
            .iter()
            .map(|d| parse_path(d))
            .collect::<Result<Vec<_>, _>>()?;
        let mut types = TypeCache::default();
        let mut modules = Names::default();
        modules.reserve("mod");
        let mut namespaces = Vec::new();
        // Row struct names by `namespace.table`, for topic variants.
        let mut rows: HashMap<String, (String, String)> = HashMap::new();

        for ns in catalog.namespaces.values() {
            if ns.tables.is_empty() && ns.topics.is_empty() {
                continue;
            }
            let module = modules.claim(&naming::snake(&ns.name), None);
            let mut items = Names::default();
            let mut tables = Vec::new();
            for table in ns.tables.values() {
                let settings = config.tables.get(&table.qualified_name());
                let wanted = match settings.and_then(|s| s.rename.clone()) {
                    Some(name) => name,
                    None if config.singularize => naming::camel(&naming::singular(&table.name)),
                    None => naming::camel(&table.name),
                };
                let row = items.claim(&wanted, None);
                rows.insert(table.qualified_name(), (module.clone(), row.clone()));
                let mut derives = global_derives.clone();
                for d in settings.map(|s| s.derives.as_slice()).unwrap_or_default() {
                    derives.push(parse_path(d)?);
                }
                let mut field_names = Names::default();
                let mut fields = Vec::new();
                let mut columns: Vec<&Column> = table.user_columns().collect();
                columns.sort_by_key(|c| c.ordinal);
                for column in columns {
                    let key = format!("{}.{}", table.qualified_name(), column.name);
                    let settings = config.columns.get(&key);
                    let wanted = match settings.and_then(|s| s.rename.clone()) {
                        Some(name) => name,
                        None => naming::snake(&column.name),
                    };
                    let base = config
                        .type_override(&key, column.ty)
                        .unwrap_or(column.ty.rust_type());
                    fields.push(FieldPlan {
                        column,
                        ident: field_names.claim(&wanted, None),
                        ty: types.get(base, column.nullable)?,
                    });
                }
                tables.push(TablePlan {
                    table,
                    row,
                    insert: String::new(),
                    columns_module: String::new(),
                    derives,
                    fields,
                });
            }
            // Second pass, so row names win over derived names (`NewMessage`, `messages`).
            for plan in &mut tables {
                let settings = config.tables.get(&plan.table.qualified_name());
                let wanted = settings
                    .and_then(|s| s.insert_rename.clone())
                    .unwrap_or_else(|| format!("New{}", plan.row.trim_end_matches('_')));
                plan.insert = items.claim(&wanted, None);
                plan.columns_module = items.claim(&naming::snake(&plan.table.name), None);
            }
            namespaces.push(NsPlan {
                ns,
                module,
                tables,
                topics: Vec::new(),
            });
        }

        for plan in &mut namespaces {
            let mut items = Names::default();
            for t in &plan.tables {
                items.reserve(&t.row);
                items.reserve(&t.insert);
                items.reserve(&t.columns_module);
            }
            for topic in plan.ns.topics.values() {
                let base = naming::camel(&naming::singular(&topic.name));
                let name = items.claim(&base, Some(&format!("{base}Topic")));
                let variants = topic_variants(topic, &plan.module, &rows)?;
                plan.topics.push(TopicPlan {
                    topic,
                    name,
                    variants,
                });
            }
        }
        Ok(Plan { namespaces })
    }
}

fn topic_variants(
    topic: &Topic,
    module: &str,
    rows: &HashMap<String, (String, String)>,
) -> Result<Vec<VariantPlan>, EmitError> {
    let mut names = Names::default();
    let mut variants: Vec<VariantPlan> = Vec::new();
    for source in &topic.sources {
        let table = format!("{}.{}", source.namespace, source.table);
        if let Some(v) = variants.iter_mut().find(|v| v.table == table) {
            if !v.ops.contains(&source.op) {
                v.ops.push(source.op);
            }
            continue;
        }
        // A source table left out by include/exclude gets no variant.
        let Some((source_module, row)) = rows.get(&table) else {
            continue;
        };
        let name = names.claim(
            row,
            Some(&format!("{}{row}", naming::camel(&source.namespace))),
        );
        let path = if source_module == module {
            row.clone()
        } else {
            format!("super::{source_module}::{row}")
        };
        variants.push(VariantPlan {
            name,
            table,
            path: parse_raw_path(&path)?,
            ops: vec![source.op],
            payload: source.payload,
        });
    }
    Ok(variants)
}
