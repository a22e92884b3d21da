//! Checking INSERT, UPDATE and DELETE: the target table, the written columns and the types of
//! the values (which is where most parameters get their types).

use sqlparser::ast::{SetExpr, Spanned, TableFactor, TableObject};

use crate::check::{Checker, Out, Scope, Ty, lower_ident, name_parts};
use crate::describe::QueryKind;
use crate::dtype::DType;
use crate::error::{ErrorKind, SchemaError, nearest};

impl Checker<'_> {
    pub(crate) fn insert(
        &mut self,
        ins: &sqlparser::ast::Insert,
    ) -> Result<(QueryKind, Vec<Out>), SchemaError> {
        let TableObject::TableName(name) = &ins.table else {
            return Err(self.unsupported("INSERT INTO a table function", ins.table.span()));
        };
        if ins.on.is_some()
            || ins.returning.is_some()
            || !ins.assignments.is_empty()
            || ins.partitioned.is_some()
        {
            return Err(self.unsupported("INSERT … ON CONFLICT / RETURNING / SET", name.span()));
        }
        let table = self.table(name)?;
        let tref = self.touch(table);
        let mut targets = Vec::new();
        if ins.columns.is_empty() {
            targets.extend(table.user_columns());
        } else {
            for id in &ins.columns {
                let n = lower_ident(id);
                let col = table.columns.iter().find(|x| x.name == n).ok_or_else(|| {
                    let mut e = self.err(
                        ErrorKind::UnknownColumn,
                        format!("unknown column `{n}` in {}", table.qualified_name()),
                        id.span,
                    );
                    if let Some(s) = nearest(&n, table.user_columns().map(|c| c.name.as_str())) {
                        e = e.with_suggestion(s);
                    }
                    e
                })?;
                if col.system {
                    return Err(self.err(
                        ErrorKind::InvalidDefinition,
                        format!("system column `{n}` cannot be written"),
                        id.span,
                    ));
                }
                if targets.iter().any(|t: &&crate::model::Column| t.name == n) {
                    return Err(self.err(
                        ErrorKind::Syntax,
                        format!("column `{n}` is listed twice"),
                        id.span,
                    ));
                }
                targets.push(col);
            }
        }
        let Some(source) = &ins.source else {
            return Err(self.unsupported("INSERT without VALUES or SELECT", name.span()));
        };
        match source.body.as_ref() {
            SetExpr::Values(values) if source.with.is_none() => {
                let scope = Scope::new(Vec::new(), None);
                for row in &values.rows {
                    if row.len() != targets.len() {
                        return Err(self.err(
                            ErrorKind::TypeMismatch,
                            format!(
                                "INSERT has {} target columns but a VALUES row has {} values",
                                targets.len(),
                                row.len()
                            ),
                            row.first().map_or(name.span(), Spanned::span),
                        ));
                    }
                    for (e, col) in row.iter().zip(&targets) {
                        let (ty, _) = self.expr(e, &scope)?;
                        self.assign(&ty, col, e.span())?;
                    }
                }
            }
            _ => {
                let outs = self.query(source, None)?;
                if outs.len() != targets.len() {
                    return Err(self.err(
                        ErrorKind::TypeMismatch,
                        format!(
                            "INSERT has {} target columns but the SELECT returns {}",
                            targets.len(),
                            outs.len()
                        ),
                        source.span(),
                    ));
                }
                for (o, col) in outs.iter().zip(&targets) {
                    self.assign(&o.ty, col, source.span())?;
                }
            }
        }
        Ok((QueryKind::Insert { table: tref }, Vec::new()))
    }

    /// Checks that a value of type `ty` can be stored in `col`, inferring parameters.
    fn assign(
        &mut self,
        ty: &Ty,
        col: &crate::model::Column,
        span: sqlparser::tokenizer::Span,
    ) -> Result<(), SchemaError> {
        if let Some(p) = ty.param {
            return self.resolve_param(p, col.ty, col.nullable, span);
        }
        let target = DType::of_sql(col.ty);
        if ty.dt == DType::Null {
            if !col.nullable && col.default.is_none() {
                return Err(self.err(
                    ErrorKind::TypeMismatch,
                    format!("NULL cannot be stored in NOT NULL column `{}`", col.name),
                    span,
                ));
            }
            return Ok(());
        }
        let ok = ty.dt == target
            || (ty.dt.is_numeric() && target.is_numeric())
            || (ty.dt == DType::Utf8
                && !matches!(target, DType::Binary | DType::Embedding(_) | DType::Boolean)
                && !target.is_numeric())
            || (ty.dt.is_temporal() && target.is_temporal());
        if ok {
            Ok(())
        } else {
            Err(self.err(
                ErrorKind::TypeMismatch,
                format!(
                    "cannot store {} in column `{}` of type {}",
                    ty.sql().map_or("INTERVAL".to_owned(), |t| t.sql_name()),
                    col.name,
                    col.ty
                ),
                span,
            ))
        }
    }

    pub(crate) fn update(
        &mut self,
        up: &sqlparser::ast::Update,
    ) -> Result<(QueryKind, Vec<Out>), SchemaError> {
        if up.from.is_some() || up.returning.is_some() || !up.table.joins.is_empty() {
            return Err(
                self.unsupported("UPDATE … FROM / RETURNING / JOIN", up.table.relation.span())
            );
        }
        let TableFactor::Table { name, .. } = &up.table.relation else {
            return Err(self.unsupported("UPDATE of a derived table", up.table.relation.span()));
        };
        let table = self.table(name)?;
        let tref = self.touch(table);
        let rel = self.factor(&up.table.relation, None)?;
        let scope = Scope::new(vec![rel], None);
        for a in &up.assignments {
            let sqlparser::ast::AssignmentTarget::ColumnName(target) = &a.target else {
                return Err(self.unsupported("tuple assignment", a.value.span()));
            };
            let parts = name_parts(target);
            let Some(id) = parts.last() else { continue };
            let n = lower_ident(id);
            let col = table.column(&n).filter(|c| c.name == n).ok_or_else(|| {
                let mut e = self.err(
                    ErrorKind::UnknownColumn,
                    format!("unknown column `{n}` in {}", table.qualified_name()),
                    id.span,
                );
                if let Some(s) = nearest(&n, table.user_columns().map(|c| c.name.as_str())) {
                    e = e.with_suggestion(s);
                }
                e
            })?;
            if col.system {
                return Err(self.err(
                    ErrorKind::InvalidDefinition,
                    format!("system column `{n}` cannot be written"),
                    id.span,
                ));
            }
            let (ty, _) = self.expr(&a.value, &scope)?;
            self.assign(&ty, col, a.value.span())?;
        }
        if let Some(w) = &up.selection {
            let (ty, _) = self.expr(w, &scope)?;
            self.expect_bool(&ty, "WHERE", w.span())?;
        }
        Ok((QueryKind::Update { table: tref }, Vec::new()))
    }

    pub(crate) fn delete(
        &mut self,
        del: &sqlparser::ast::Delete,
    ) -> Result<(QueryKind, Vec<Out>), SchemaError> {
        let from = match &del.from {
            sqlparser::ast::FromTable::WithFromKeyword(f)
            | sqlparser::ast::FromTable::WithoutKeyword(f) => f,
        };
        if from.len() != 1
            || !from[0].joins.is_empty()
            || del.using.is_some()
            || del.returning.is_some()
            || !del.tables.is_empty()
        {
            return Err(self.err(
                ErrorKind::Unsupported,
                "DELETE supports exactly one table, without USING/RETURNING",
                del.span(),
            ));
        }
        let TableFactor::Table { name, .. } = &from[0].relation else {
            return Err(self.unsupported("DELETE from a derived table", from[0].relation.span()));
        };
        let table = self.table(name)?;
        let tref = self.touch(table);
        let rel = self.factor(&from[0].relation, None)?;
        let scope = Scope::new(vec![rel], None);
        if let Some(w) = &del.selection {
            let (ty, _) = self.expr(w, &scope)?;
            self.expect_bool(&ty, "WHERE", w.span())?;
        }
        Ok((QueryKind::Delete { table: tref }, Vec::new()))
    }
}
