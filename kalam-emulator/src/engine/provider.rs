//! DataFusion catalog over the store: one schema per namespace, one provider per table, each
//! yielding only the rows the effective user may see.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use kalam_schema::{AccessLevel, TableKind};

use crate::role::Role;
use crate::store::{Store, TableId, partition_key};

/// Who is asking: the effective user and role of the statement, and whether it reads every
/// user's partition of USER tables.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub(crate) user: String,
    pub(crate) role: Role,
    /// USER tables yield the rows of every partition, not only the user's own.
    pub(crate) all_partitions: bool,
}

impl Viewer {
    /// The scans of a write (the rows an UPDATE or DELETE matches, INSERT … SELECT): the
    /// effective user's own partition, whatever the role. Queries get theirs from
    /// [`Engine::reader`](crate::engine::Engine::reader).
    pub(crate) fn writing(user: String, role: Role) -> Viewer {
        Viewer {
            user,
            role,
            all_partitions: false,
        }
    }
}

/// Whether `role` may read a SHARED table of this access level (protocol 9).
pub(crate) fn can_read_shared(role: Role, level: AccessLevel) -> bool {
    match level {
        AccessLevel::Public => role != Role::Anonymous,
        AccessLevel::Private | AccessLevel::Restricted => {
            matches!(role, Role::Service | Role::Dba | Role::System)
        }
        AccessLevel::Dba => role.is_admin(),
    }
}

/// Whether `role` may write a SHARED table of this access level (protocol 9).
pub(crate) fn can_write_shared(role: Role, level: AccessLevel) -> bool {
    match level {
        AccessLevel::Dba => role.is_admin(),
        _ => matches!(role, Role::Service | Role::Dba | Role::System),
    }
}

/// The catalog `kalam`.
#[derive(Debug)]
pub(crate) struct KalamCatalog {
    pub(crate) store: Arc<Store>,
    pub(crate) viewer: Viewer,
}

impl CatalogProvider for KalamCatalog {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn schema_names(&self) -> Vec<String> {
        self.store
            .read()
            .catalog
            .namespaces
            .keys()
            .cloned()
            .collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let st = self.store.read();
        st.catalog.namespaces.contains_key(name).then(|| {
            Arc::new(KalamSchema {
                store: self.store.clone(),
                viewer: self.viewer.clone(),
                namespace: name.to_owned(),
            }) as Arc<dyn SchemaProvider>
        })
    }
}

/// One namespace.
#[derive(Debug)]
pub(crate) struct KalamSchema {
    store: Arc<Store>,
    viewer: Viewer,
    namespace: String,
}

#[async_trait]
impl SchemaProvider for KalamSchema {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn table_names(&self) -> Vec<String> {
        self.store
            .read()
            .catalog
            .namespaces
            .get(&self.namespace)
            .map(|ns| ns.tables.keys().cloned().collect())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let st = self.store.read();
        let Some(def) = st.catalog.table(&self.namespace, name) else {
            return Ok(None);
        };
        if def.kind == TableKind::System {
            let deny = (!self.viewer.role.is_admin()).then(|| {
                format!(
                    "Access denied: Role '{}' cannot access table 'system.{}'. System tables require 'dba' or 'system' role.",
                    self.viewer.role.title(),
                    name
                )
            });
            let batch = super::system::system_batch(&st, &self.store.topics, name)?;
            return Ok(Some(Arc::new(StaticTable {
                schema: batch.schema(),
                batch,
                deny,
            })));
        }
        let id: TableId = (self.namespace.clone(), name.to_owned());
        let Some(ts) = st.tables.get(&id) else {
            return Ok(None);
        };
        let deny = (def.kind == TableKind::Shared
            && !can_read_shared(
                self.viewer.role,
                def.options.access_level.unwrap_or_default(),
            ))
        .then(|| {
            format!(
                "Access denied: Role '{}' cannot read shared table '{}.{}' (access_level={:?})",
                self.viewer.role.title(),
                self.namespace,
                name,
                def.options.access_level.unwrap_or_default()
            )
        });
        let part = if self.viewer.all_partitions && def.kind == TableKind::User {
            Partitions::All
        } else {
            Partitions::One(partition_key(def.kind, &self.viewer.user))
        };
        Ok(Some(Arc::new(KalamTable {
            store: self.store.clone(),
            id,
            part,
            schema: ts.schema.clone(),
            deny,
        })))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.store
            .read()
            .catalog
            .table(&self.namespace, name)
            .is_some()
    }
}

/// Which partitions of a table a scan reads.
#[derive(Debug)]
enum Partitions {
    /// One partition (a user's, or the single one of a SHARED table).
    One(String),
    /// Every user's partition, in user order.
    All,
}

/// A USER/SHARED/STREAM table seen by one user.
#[derive(Debug)]
pub(crate) struct KalamTable {
    store: Arc<Store>,
    id: TableId,
    part: Partitions,
    schema: SchemaRef,
    deny: Option<String>,
}

#[async_trait]
impl TableProvider for KalamTable {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(d) = &self.deny {
            return Err(DataFusionError::Plan(d.clone()));
        }
        let batches = {
            let mut st = self.store.write();
            match (st.tables.get_mut(&self.id), &self.part) {
                (Some(ts), Partitions::One(part)) => {
                    vec![ts.batch(part).map_err(DataFusionError::Execution)?]
                }
                (Some(ts), Partitions::All) => {
                    let mut parts: Vec<String> = ts.partitions.keys().cloned().collect();
                    parts.sort_unstable();
                    let mut out = Vec::with_capacity(parts.len());
                    for part in &parts {
                        out.push(ts.batch(part).map_err(DataFusionError::Execution)?);
                    }
                    out
                }
                (None, _) => Vec::new(),
            }
        };
        let exec =
            MemorySourceConfig::try_new_exec(&[batches], self.schema.clone(), projection.cloned())?;
        Ok(exec)
    }
}

/// A table whose rows are computed when the statement is planned (`system.*`).
#[derive(Debug)]
pub(crate) struct StaticTable {
    pub(crate) schema: SchemaRef,
    pub(crate) batch: RecordBatch,
    pub(crate) deny: Option<String>,
}

#[async_trait]
impl TableProvider for StaticTable {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(d) = &self.deny {
            return Err(DataFusionError::Plan(d.clone()));
        }
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![self.batch.clone()]],
            self.schema.clone(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}
