//! Decides every Rust name and type before any token is written: config renames and type
//! overrides, singular struct names, keyword escaping and collision handling.
//!
//! The plan holds only strings and references into the catalog (types and paths are checked
//! here, turned into tokens by the emitter), so it can be shared by the emitting threads.

use std::collections::{HashMap, HashSet};

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
    /// Extra derive paths, already checked.
    pub(crate) derives: Vec<String>,
    pub(crate) fields: Vec<FieldPlan<'a>>,
}

pub(crate) struct FieldPlan<'a> {
    pub(crate) column: &'a Column,
    pub(crate) ident: String,
    /// The full Rust type (with `Option` for nullable columns), already checked.
    pub(crate) ty: String,
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
    pub(crate) path: String,
    pub(crate) ops: Vec<TopicOp>,
    pub(crate) payload: kalam_schema::PayloadMode,
}

/// Checks each distinct type string once.
#[derive(Default)]
struct TypeCheck {
    ok: HashSet<String>,
}

impl TypeCheck {
    fn full(&mut self, text: &str, nullable: bool) -> Result<String, EmitError> {
        let full = if nullable {
            format!("::std::option::Option<{text}>")
        } else {
            text.to_owned()
        };
        if !self.ok.contains(&full) {
            syn::parse_str::<syn::Type>(&full).map_err(|_| EmitError::BadType(full.clone()))?;
            self.ok.insert(full.clone());
        }
        Ok(full)
    }
}

fn check_derive(text: &str) -> Result<String, crate::Error> {
    match syn::parse_str::<syn::Path>(text) {
        Ok(_) => Ok(text.to_owned()),
        Err(_) => Err(ConfigError::InvalidDerive(text.to_owned()).into()),
    }
}

impl<'a> Plan<'a> {
    /// Plans the tables of `catalog` (already filtered, and the config already validated
    /// against the unfiltered catalog) with the settings of `config`.
    pub(crate) fn new(catalog: &'a Catalog, config: &Config) -> Result<Plan<'a>, crate::Error> {
        let global_derives = config
            .derives
            .iter()
            .map(|d| check_derive(d))
            .collect::<Result<Vec<_>, _>>()?;
        let mut types = TypeCheck::default();
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
            // The generated code names these prelude items unqualified.
            for prelude in ["Option", "Some", "None"] {
                items.reserve(prelude);
            }
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
                    derives.push(check_derive(d)?);
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
                        ty: types.full(base, column.nullable)?,
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
                let variants = topic_variants(topic, &plan.module, &rows);
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
) -> Vec<VariantPlan> {
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
            path,
            ops: vec![source.op],
            payload: source.payload,
        });
    }
    variants
}
