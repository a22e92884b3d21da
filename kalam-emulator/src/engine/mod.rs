//! DataFusion integration: per-statement sessions over the store, the SELECT path with the
//! server's implicit limits and primary-key re-sort (protocol 1.3 step 9).

pub(crate) mod provider;
pub(crate) mod schema;
pub(crate) mod system;
pub(crate) mod udf;

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{CatalogProviderList as _, MemoryCatalogProviderList};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DataFusionError, ScalarValue, TableReference};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::collect;
use datafusion::prelude::SessionConfig;
use kalam_schema::TableKind;

use crate::role::{Role, RoleSet};
use crate::store::Store;
use provider::{KalamCatalog, Viewer};

/// Row limits applied to every SELECT (protocol 1.3 step 9), and who reads across the
/// partitions of USER tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) default_limit: usize,
    pub(crate) max_limit: usize,
    pub(crate) pk_resort: bool,
    pub(crate) cross_partition_readers: RoleSet,
}

/// The result of a query: the logical schema (with KalamDB metadata) and the batches.
#[derive(Debug)]
pub(crate) struct QueryOutput {
    pub(crate) schema: SchemaRef,
    pub(crate) batches: Vec<RecordBatch>,
}

/// Plans and runs SQL over the store.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) store: Arc<Store>,
    base: SessionState,
    pub(crate) limits: Limits,
}

impl Engine {
    pub(crate) fn new(store: Arc<Store>, limits: Limits) -> Engine {
        let base = SessionStateBuilder::new().with_default_features().build();
        Engine {
            store,
            base,
            limits,
        }
    }

    /// The viewer of a query (a SELECT, a live subscription's initial data) by `user` with
    /// `role`: USER tables show every partition to the roles configured for it.
    pub(crate) fn reader(&self, user: String, role: Role) -> Viewer {
        Viewer {
            all_partitions: self.limits.cross_partition_readers.contains(role),
            user,
            role,
        }
    }

    /// A session for one statement, seeing the store as `viewer` with `namespace` as default.
    pub(crate) fn session(&self, viewer: &Viewer, namespace: &str) -> SessionState {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema("kalam", namespace);
        let list = Arc::new(MemoryCatalogProviderList::new());
        list.register_catalog(
            "kalam".into(),
            Arc::new(KalamCatalog {
                store: self.store.clone(),
                viewer: viewer.clone(),
            }),
        );
        let mut state = SessionStateBuilder::new_from_existing(self.base.clone())
            .with_config(config)
            .with_catalog_list(list)
            .build();
        for f in udf::functions(self.store.seq.clone(), &viewer.user, viewer.role.as_str()) {
            let _ = state.register_udf(Arc::new(f));
        }
        state.mark_start_execution();
        state
    }

    /// Plans one parsed statement and binds `$n` parameters.
    pub(crate) async fn plan(
        &self,
        state: &SessionState,
        stmt: sqlparser::ast::Statement,
        params: &[ScalarValue],
    ) -> Result<LogicalPlan, DataFusionError> {
        let plan = state
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                stmt,
            )))
            .await?;
        if params.is_empty() {
            Ok(plan)
        } else {
            plan.with_param_values(params.to_vec())
        }
    }

    /// Runs a logical plan to completion.
    pub(crate) async fn run(
        &self,
        state: &SessionState,
        plan: LogicalPlan,
    ) -> Result<QueryOutput, DataFusionError> {
        let schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
        let physical = state.create_physical_plan(&plan).await?;
        let batches = collect(physical, state.task_ctx()).await?;
        Ok(QueryOutput { schema, batches })
    }

    /// The SELECT path: plan, wrap in the default primary-key sort and the implicit limits,
    /// run.
    pub(crate) async fn select(
        &self,
        viewer: &Viewer,
        namespace: &str,
        stmt: sqlparser::ast::Statement,
        params: &[ScalarValue],
    ) -> Result<QueryOutput, DataFusionError> {
        let state = self.session(viewer, namespace);
        let plan = self.plan(&state, stmt, params).await?;
        let plan = self.wrap_limits(plan, namespace)?;
        self.run(&state, plan).await
    }

    fn wrap_limits(
        &self,
        plan: LogicalPlan,
        namespace: &str,
    ) -> Result<LogicalPlan, DataFusionError> {
        if !matches!(
            plan,
            LogicalPlan::Projection(_)
                | LogicalPlan::Sort(_)
                | LogicalPlan::Limit(_)
                | LogicalPlan::Aggregate(_)
                | LogicalPlan::Filter(_)
                | LogicalPlan::TableScan(_)
                | LogicalPlan::Join(_)
                | LogicalPlan::Union(_)
                | LogicalPlan::Distinct(_)
                | LogicalPlan::SubqueryAlias(_)
                | LogicalPlan::Values(_)
                | LogicalPlan::Window(_)
                | LogicalPlan::EmptyRelation(_)
        ) {
            return Ok(plan);
        }
        let explicit = has_limit(&plan);
        let limit = if explicit {
            self.limits.max_limit
        } else {
            self.limits.default_limit.min(self.limits.max_limit)
        };
        let mut builder = LogicalPlanBuilder::from(plan.clone());
        if self.limits.pk_resort
            && !matches!(plan, LogicalPlan::Sort(_))
            && let Some(key) = self.resort_key(&plan, namespace)
        {
            builder = builder.sort(vec![key.sort(true, false)])?;
        }
        builder.limit(0, Some(limit))?.build()
    }

    /// The output column to re-sort by: the primary key (else `_seq`) of the first scanned
    /// USER/SHARED/STREAM table, when it is part of the output.
    fn resort_key(&self, plan: &LogicalPlan, namespace: &str) -> Option<Expr> {
        let mut first: Option<TableReference> = None;
        let _ = plan.apply(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                first = Some(scan.table_name.clone());
                return Ok(TreeNodeRecursion::Stop);
            }
            Ok(TreeNodeRecursion::Continue)
        });
        let r = first?;
        let ns = r.schema().unwrap_or(namespace).to_owned();
        let st = self.store.read();
        let def = st.catalog.table(&ns, r.table())?;
        if def.kind == TableKind::System {
            return None;
        }
        let key = def
            .primary_key()
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "_seq".to_owned());
        let schema = plan.schema();
        (0..schema.fields().len()).find_map(|i| {
            let (q, f) = schema.qualified_field(i);
            (f.name() == &key).then(|| Expr::Column(Column::new(q.cloned(), f.name())))
        })
    }
}

fn has_limit(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Limit(_) => true,
        LogicalPlan::Sort(s) => s.fetch.is_some() || has_limit(&s.input),
        LogicalPlan::Projection(p) => has_limit(&p.input),
        LogicalPlan::SubqueryAlias(a) => has_limit(&a.input),
        _ => false,
    }
}
