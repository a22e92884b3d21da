//! Generating Rust (and DDL) for 1,000 synthetic tables.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kalam_codegen::{Config, emit_sql, generate_rust};
use kalam_schema::{
    AccessLevel, Catalog, Column, DefaultValue, Literal, Namespace, SqlType, Table, TableKind,
    TableOptions,
};

const TYPES: &[SqlType] = &[
    SqlType::Text,
    SqlType::Int,
    SqlType::Boolean,
    SqlType::Timestamp,
    SqlType::Double,
    SqlType::Json,
    SqlType::Decimal {
        precision: 12,
        scale: 2,
    },
    SqlType::Uuid,
    SqlType::Embedding(16),
    SqlType::Bytes,
];

/// 10 namespaces × 100 tables × 12 columns, all kinds, defaults and nullable columns.
fn catalog(tables: usize) -> Catalog {
    let mut catalog = Catalog::default();
    for t in 0..tables {
        let ns_name = format!("ns{}", t % 10);
        let kind = [TableKind::User, TableKind::Shared, TableKind::Stream][t % 3];
        let mut id = Column::new("id", SqlType::BigInt, false);
        id.primary_key = true;
        id.default = Some(DefaultValue::SnowflakeId);
        let mut columns = vec![id];
        for c in 0..11 {
            let mut col = Column::new(
                format!("col_{c}_of_{t}"),
                TYPES[(t + c) % TYPES.len()],
                c % 3 == 0,
            );
            if c % 4 == 1 {
                col.default = Some(DefaultValue::Literal(Literal::Number("1".into())));
            }
            columns.push(col);
        }
        for (i, c) in columns.iter_mut().enumerate() {
            c.ordinal = u32::try_from(i + 1).unwrap();
        }
        let options = TableOptions {
            ttl_seconds: (kind == TableKind::Stream).then_some(60),
            access_level: (kind == TableKind::Shared).then_some(AccessLevel::Public),
            ..TableOptions::default()
        };
        let table = Table {
            namespace: ns_name.clone(),
            name: format!("table_{t}_records"),
            kind,
            columns,
            options,
            comment: Some(format!("Synthetic table number {t}.")),
        };
        catalog
            .namespaces
            .entry(ns_name.clone())
            .or_insert_with(|| Namespace {
                name: ns_name,
                ..Namespace::default()
            })
            .tables
            .insert(table.name.clone(), table);
    }
    catalog
}

fn bench(c: &mut Criterion) {
    let catalog = catalog(1000);
    let config = Config::default();
    let mut group = c.benchmark_group("1000 tables");
    group.sample_size(10);
    group.bench_function("generate_rust", |b| {
        b.iter(|| generate_rust(black_box(&catalog), &config).unwrap())
    });
    group.bench_function("emit_sql", |b| {
        b.iter(|| emit_sql::catalog_sql(black_box(&catalog)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
