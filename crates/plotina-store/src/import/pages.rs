//! What the import pages show before and after an import: a look at the file (headers,
//! the automatic mapping, the first rows, the number of rows), the fields a column can
//! go to, the saved mappings and the list of batches.

use std::path::Path;

use plotina_core::policy::Actor;
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Access, Entity};
use sea_query::{Alias, Order, Query};

use super::mapping::{self, ColumnMap, Preset, PSEUDO_TARGETS};
use super::source::{self, FileError, Format};
use super::{decode_batch, Batch, BATCH_COLUMNS};
use crate::error::{Result, StoreError};
use crate::filter_sql::col;
use crate::Store;

/// A file as the mapping step shows it.
#[derive(Debug, Clone)]
pub struct Preview {
    pub format: Format,
    pub headers: Vec<String>,
    /// The first rows: (row number in the file, cells).
    pub sample: Vec<(u64, Vec<String>)>,
    /// Data rows in the whole file.
    pub rows: u64,
}

/// Reads the file (no database) and keeps its first `sample_rows` rows. With `whole`,
/// reads all of it the way an import's first pass does, so a broken file is refused
/// here with the same message and `rows` counts every row; without, stops after the
/// sample (`rows` is then the sample's size). Blocking file IO: call it off the async
/// threads.
pub fn preview(
    path: &Path,
    sample_rows: usize,
    whole: bool,
) -> std::result::Result<Preview, FileError> {
    let (format, mut src) = source::open(path)?;
    let headers = src.headers().to_vec();
    let mut sample = Vec::new();
    let mut rows = 0u64;
    while let Some(r) = src.next_row() {
        let (row, cells) = r?;
        rows += 1;
        if sample.len() < sample_rows {
            sample.push((row, cells));
        } else if !whole {
            rows -= 1;
            break;
        }
    }
    if rows == 0 {
        return Err(FileError::new("import_file_no_rows"));
    }
    Ok(Preview {
        format,
        headers,
        sample,
        rows,
    })
}

/// A file problem as the domain error the pages render.
pub fn file_problem(e: FileError) -> StoreError {
    super::file_error(e)
}

/// The automatic mapping of headers for an entity (custom fields included).
pub async fn auto_mapping(
    store: &Store,
    entity: Entity,
    headers: &[String],
    preset: Option<Preset>,
) -> Result<Vec<ColumnMap>> {
    let customs = store.custom_defs(entity).await?;
    Ok(mapping::auto_map(entity, headers, preset, &customs))
}

/// Where a column can go.
#[derive(Debug, Clone)]
pub enum Target {
    /// A field of the entity (its name).
    Field(&'static str),
    /// A name resolved to a field: `full_name`, `company`, `stage`, `owner`, `assignee`.
    Pseudo(&'static str),
    /// A custom field.
    Custom(CustomFieldDef),
}

impl Target {
    /// The value a mapping stores.
    pub fn code(&self) -> String {
        match self {
            Target::Field(f) | Target::Pseudo(f) => f.to_string(),
            Target::Custom(d) => format!("custom.{}", d.key),
        }
    }
}

/// Every target a column of an entity's file may be mapped to, in form order.
pub async fn targets(store: &Store, entity: Entity) -> Result<Vec<Target>> {
    let customs = store.custom_defs(entity).await?;
    let mut out: Vec<Target> = entity
        .fields()
        .filter(|f| f.access != Access::System && mapping::valid_target(entity, f.name, &customs))
        .map(|f| Target::Field(f.name))
        .collect();
    out.extend(
        PSEUDO_TARGETS
            .iter()
            .filter(|p| mapping::valid_target(entity, p, &customs))
            .map(|p| Target::Pseudo(p)),
    );
    out.extend(customs.into_iter().map(Target::Custom));
    Ok(out)
}

/// The names of the saved mappings of an entity, sorted.
pub async fn mapping_names(store: &Store, entity: Entity) -> Result<Vec<String>> {
    let mut tx = store.pool().begin().await?;
    let q = Query::select()
        .column(Alias::new("name"))
        .from(Alias::new("import_mappings"))
        .and_where(col("entity").eq(entity.code()))
        .order_by(Alias::new("name"), Order::Asc)
        .limit(500)
        .to_owned();
    let mut out = Vec::new();
    for r in tx.fetch_all(&q).await? {
        out.push(r.text("name")?.unwrap_or_default());
    }
    tx.commit().await?;
    Ok(out)
}

/// The imports (not the dry runs) the actor may see, newest first: their own, or every
/// one for an administrator.
pub async fn batches(store: &Store, actor: &Actor, limit: u64) -> Result<Vec<Batch>> {
    let mut q = Query::select();
    q.columns(BATCH_COLUMNS.map(Alias::new))
        .from(Alias::new("import_batches"))
        .and_where(col("dry_run").eq(false))
        .order_by(Alias::new("id"), Order::Desc)
        .limit(limit);
    if !actor.is_admin {
        q.and_where(col("created_by").eq(actor.user_id));
    }
    let mut tx = store.pool().begin().await?;
    let rows = tx.fetch_all(&q).await?;
    tx.commit().await?;
    rows.iter().map(decode_batch).collect()
}
