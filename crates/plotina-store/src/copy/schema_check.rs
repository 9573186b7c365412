//! The live schema compared with `TABLES`, so a migration that adds a table or column
//! copy does not know about fails loudly instead of being skipped.

use super::*;

// ---------------------------------------------------------------------------------------
// Schema check

/// A column as the live database declares it.
struct LiveColumn {
    table: String,
    column: String,
    sql_type: String,
    /// 1-based position in the primary key, 0 when not part of it.
    pk: i64,
}

/// Full-text indexes (`fts_*` virtual tables and their shadow tables), the kanban totals
/// (`deal_stage_totals`) and the settings epoch (`config_epoch`) are derived from the
/// record tables by triggers, which fill them in the target as the records are copied;
/// they are neither compared nor copied.
const SQLITE_COLUMNS: &str = "SELECT m.name AS tbl, p.name AS col, p.type AS ty, p.pk AS pk \
     FROM sqlite_master m JOIN pragma_table_info(m.name) p \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name <> '_sqlx_migrations' \
     AND m.name NOT LIKE 'fts\\_%' ESCAPE '\\' AND m.name NOT IN ('deal_stage_totals', 'config_epoch') \
     ORDER BY m.name, p.cid";

/// Ordinary and partitioned tables of the current schema (partitions are part of their
/// parent), with each column's primary-key position.
const POSTGRES_COLUMNS: &str = "SELECT c.relname::text AS tbl, a.attname::text AS col, t.typname::text AS ty, \
       COALESCE((SELECT k.n FROM pg_index i, unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
                 WHERE i.indrelid = c.oid AND i.indisprimary AND k.attnum = a.attnum), 0)::int8 AS pk \
     FROM pg_class c \
     JOIN pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = current_schema() \
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
     JOIN pg_type t ON t.oid = a.atttypid \
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> '_sqlx_migrations' \
     AND c.relname NOT IN ('deal_stage_totals', 'config_epoch') \
     ORDER BY c.relname, a.attnum";

async fn live_columns(pool: &Pool) -> anyhow::Result<Vec<LiveColumn>> {
    let sql = match pool.backend() {
        Backend::Sqlite => SQLITE_COLUMNS,
        Backend::Postgres => POSTGRES_COLUMNS,
    };
    let mut tx = pool.begin().await?;
    let rows = tx
        .fetch_all_sql(sql, no_values())
        .await
        .context("cannot read the database schema")?;
    tx.commit().await?;
    rows.iter()
        .map(|r| {
            Ok(LiveColumn {
                table: r.text("tbl")?.unwrap_or_default(),
                column: r.text("col")?.unwrap_or_default(),
                sql_type: r.text("ty")?.unwrap_or_default(),
                pk: r.i64("pk")?.unwrap_or(0),
            })
        })
        .collect()
}

/// How the live schema differs from [`TABLES`]; empty when the copy knows every table,
/// column, column type and primary key.
pub async fn schema_differences(pool: &Pool) -> anyhow::Result<Vec<String>> {
    let live = live_columns(pool).await?;
    let mut by_table: std::collections::BTreeMap<&str, Vec<&LiveColumn>> = Default::default();
    for c in &live {
        by_table.entry(c.table.as_str()).or_default().push(c);
    }
    let mut out = Vec::new();
    for (name, cols) in &by_table {
        match table_spec(name) {
            Some(spec) => out.extend(table_differences(pool.backend(), spec, cols)),
            None => out.push(format!(
                "table {name} is not known to plotina db copy (copy.rs)"
            )),
        }
    }
    let missing = TABLES.iter().filter(|t| !by_table.contains_key(t.name));
    out.extend(missing.map(|t| format!("table {} is missing", t.name)));
    Ok(out)
}

fn table_differences(backend: Backend, spec: &TableSpec, cols: &[&LiveColumn]) -> Vec<String> {
    let t = spec.name;
    let mut out = Vec::new();
    for c in cols {
        match spec.kind(&c.column) {
            None => out.push(format!(
                "column {t}.{} ({}) is not known to plotina db copy (copy.rs)",
                c.column, c.sql_type
            )),
            Some(kind) if !kind.sql_type(backend).eq_ignore_ascii_case(&c.sql_type) => {
                out.push(format!(
                    "column {t}.{} is {}, copy.rs expects {} ({kind:?})",
                    c.column,
                    c.sql_type,
                    kind.sql_type(backend)
                ))
            }
            Some(_) => {}
        }
    }
    for (name, _) in spec
        .columns()
        .filter(|(n, _)| !cols.iter().any(|c| c.column == *n))
    {
        out.push(format!("column {t}.{name} is missing"));
    }
    let mut pk: Vec<&&LiveColumn> = cols.iter().filter(|c| c.pk > 0).collect();
    pk.sort_by_key(|c| c.pk);
    let pk: Vec<&str> = pk.iter().map(|c| c.column.as_str()).collect();
    if pk != spec.primary_key() {
        out.push(format!(
            "primary key of {t} is {pk:?}, copy.rs expects {:?}",
            spec.primary_key()
        ));
    }
    out
}
