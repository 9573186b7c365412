//! Export of a filtered list to CSV, XLSX or JSON: the way out, with the limits owners
//! ask for. Needs the `export` right on the entity (its scope narrows the rows as the
//! read scope does), passes the notebook gate for exports, refuses a set larger than the
//! role's row limit, logs every export (who, entity, filter, search, columns, rows) and
//! tells the administrators when one is larger than the notice threshold.
//!
//! Rows are read in id-ordered batches inside one read transaction and written to the
//! caller's writer as they come, so a large export never sits in memory whole (the XLSX
//! writer runs in its constant-memory mode).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::{Action, Actor};
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Entity, FieldKind};
use sea_query::{Alias, Expr as SqlExpr, Order, Query};
use serde::Serialize;
use serde_json::{json, Value as Json};

use crate::db::Tx;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::gates::GateAction;
use crate::listing::{ListParams, QueryCtx};
use crate::rows::RecordReader;
use crate::Store;

/// Rows fetched per query while streaming.
const BATCH: u64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Xlsx,
    Json,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "xlsx" => Some(ExportFormat::Xlsx),
            "json" => Some(ExportFormat::Json),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            ExportFormat::Json => "application/json",
        }
    }
}

/// What to export and how to label it. Labels come from the caller, which knows the
/// user's language.
pub struct ExportRequest<'a> {
    pub entity: Entity,
    pub params: ListParams,
    /// Field names (`custom.<key>` for custom fields); empty = the default set.
    pub columns: Vec<String>,
    pub format: ExportFormat,
    /// CSV only: `;` (what spreadsheet programs in Russian locales expect), `,` or tab.
    pub delimiter: u8,
    /// Where the export was started: `api`, `web` or `cli`.
    pub source: &'a str,
    /// Above this many rows the administrators get a notebook item.
    pub notify_above: u64,
    pub header: &'a (dyn Fn(&str) -> String + Sync),
    pub yes_no: (&'a str, &'a str),
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub log_id: i64,
    pub rows: u64,
}

/// One entry of the export log.
#[derive(Debug, Clone, Serialize)]
pub struct ExportLogEntry {
    pub id: i64,
    pub user_id: i64,
    pub entity: String,
    pub filter: Option<String>,
    pub q: Option<String>,
    pub columns: Json,
    pub format: String,
    pub rows: i64,
    pub source: String,
    pub created_at: Json,
}

/// A cell of a spreadsheet export.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Num(f64),
    Empty,
}

/// Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, and the tab and
/// carriage return that hide one) gets a leading apostrophe: shown as typed, never run.
pub fn neutralise(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// A column: where its value comes from and how it is shown.
struct Column {
    name: String,
    kind: ColumnKind,
}

#[derive(Clone, Copy)]
enum ColumnKind {
    Number,
    Bool,
    Ref(Entity),
    /// Shown in the exporting user's time zone, to the minute.
    DateTime,
    Other,
}

fn field_kind(kind: FieldKind) -> ColumnKind {
    match kind {
        FieldKind::Id | FieldKind::Int { .. } | FieldKind::Money => ColumnKind::Number,
        FieldKind::Bool => ColumnKind::Bool,
        FieldKind::Ref(e) => ColumnKind::Ref(e),
        FieldKind::DateTime => ColumnKind::DateTime,
        _ => ColumnKind::Other,
    }
}

fn custom_kind(def: &CustomFieldDef) -> ColumnKind {
    match (def.kind.as_str(), def.link_entity) {
        ("number" | "money", _) => ColumnKind::Number,
        ("bool", _) => ColumnKind::Bool,
        ("link", Some(e)) => ColumnKind::Ref(e),
        _ => ColumnKind::Other,
    }
}

/// Audit and internal fields that are not worth a column by default.
const SKIPPED_BY_DEFAULT: &[&str] = &["version", "deleted_at", "created_by", "updated_by"];

fn columns(entity: Entity, customs: &[CustomFieldDef], wanted: &[String]) -> Result<Vec<Column>> {
    let own = |name: &str| -> Option<Column> {
        let f = entity.field(name)?;
        if matches!(f.kind, FieldKind::Json | FieldKind::StringMap) {
            return None;
        }
        Some(Column {
            name: f.name.to_string(),
            kind: field_kind(f.kind),
        })
    };
    let custom = |key: &str| -> Option<Column> {
        let d = customs.iter().find(|d| d.key == key)?;
        Some(Column {
            name: format!("custom.{}", d.key),
            kind: custom_kind(d),
        })
    };
    if wanted.is_empty() {
        let mut out: Vec<Column> = entity
            .fields()
            .filter(|f| !f.hidden && !SKIPPED_BY_DEFAULT.contains(&f.name))
            .filter_map(|f| own(f.name))
            .collect();
        out.extend(
            customs
                .iter()
                .filter(|d| !d.hidden)
                .filter_map(|d| custom(&d.key)),
        );
        return Ok(out);
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for name in wanted {
        let name = name.trim();
        if name.is_empty() || !seen.insert(name.to_string()) {
            continue;
        }
        let column = match name.strip_prefix("custom.") {
            Some(key) => custom(key),
            None => own(name),
        };
        match column {
            Some(c) => out.push(c),
            None => {
                return fail(DomainError::Invalid(vec![FieldError::new(
                    "columns",
                    "export_unknown_column",
                )
                .with("column", name)]))
            }
        }
    }
    Ok(out)
}

fn raw<'r>(rec: &'r serde_json::Map<String, Json>, name: &str) -> &'r Json {
    let v = match name.strip_prefix("custom.") {
        Some(key) => rec.get("custom").and_then(|c| c.get(key)),
        None => rec.get(name),
    };
    v.unwrap_or(&Json::Null)
}

/// Arrays (tags, phones, e-mails, addresses) become one comma-separated cell.
fn plain_text(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Array(items) => items
            .iter()
            .map(plain_text)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        Json::Object(m) => m
            .values()
            .map(plain_text)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// How cells are shown: booleans in the user's words, times in the user's zone.
struct Shown<'a> {
    yes_no: (&'a str, &'a str),
    tz: chrono_tz::Tz,
}

fn cell(
    column: &Column,
    v: &Json,
    titles: &BTreeMap<(Entity, i64), String>,
    shown: &Shown<'_>,
) -> Cell {
    let yes_no = shown.yes_no;
    if v.is_null() {
        return Cell::Empty;
    }
    match column.kind {
        ColumnKind::Number => match v {
            Json::Number(n) => n.as_f64().map(Cell::Num).unwrap_or(Cell::Empty),
            Json::String(s) => s
                .parse::<f64>()
                .map(Cell::Num)
                .unwrap_or_else(|_| Cell::Text(neutralise(s))),
            other => Cell::Text(neutralise(&plain_text(other))),
        },
        ColumnKind::Bool => Cell::Text(
            if v.as_bool().unwrap_or(false) {
                yes_no.0
            } else {
                yes_no.1
            }
            .to_string(),
        ),
        ColumnKind::Ref(e) => match v.as_i64().and_then(|id| titles.get(&(e, id))) {
            Some(title) => Cell::Text(neutralise(title)),
            None => Cell::Text(plain_text(v)),
        },
        ColumnKind::DateTime => {
            let text = plain_text(v);
            match chrono::DateTime::parse_from_rfc3339(&text) {
                Ok(t) => Cell::Text(
                    t.with_timezone(&shown.tz)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                ),
                Err(_) => Cell::Text(neutralise(&text)),
            }
        }
        ColumnKind::Other => Cell::Text(neutralise(&plain_text(v))),
    }
}

/// The titles of the records the batch links to, one query per linked entity.
async fn link_titles(
    tx: &mut Tx,
    columns: &[Column],
    batch: &[serde_json::Map<String, Json>],
) -> Result<BTreeMap<(Entity, i64), String>> {
    let mut wanted: BTreeMap<Entity, BTreeSet<i64>> = BTreeMap::new();
    for c in columns {
        if let ColumnKind::Ref(e) = c.kind {
            let ids = wanted.entry(e).or_default();
            ids.extend(batch.iter().filter_map(|r| raw(r, &c.name).as_i64()));
        }
    }
    let mut out = BTreeMap::new();
    for (entity, ids) in wanted {
        if ids.is_empty() {
            continue;
        }
        let title = entity.title_field();
        let rows = tx
            .fetch_all(
                &Query::select()
                    .column(Alias::new("id"))
                    .expr_as(SqlExpr::col(Alias::new(title)), Alias::new("title"))
                    .from(Alias::new(entity.table()))
                    .and_where(col("id").is_in(ids.iter().copied()))
                    .to_owned(),
            )
            .await?;
        for r in rows {
            if let (Some(id), Some(t)) = (r.i64("id")?, r.text("title")?) {
                out.insert((entity, id), t);
            }
        }
    }
    Ok(out)
}

/// Writes rows as they come in the chosen format.
enum Sink<'w> {
    Csv(Box<csv::Writer<&'w mut (dyn Write + Send)>>),
    Xlsx {
        book: Box<rust_xlsxwriter::Workbook>,
        row: u32,
        out: &'w mut (dyn Write + Send),
    },
    Json {
        out: &'w mut (dyn Write + Send),
        first: bool,
    },
}

fn io(e: impl std::fmt::Display) -> crate::StoreError {
    crate::StoreError::Internal(anyhow::anyhow!("export write failed: {e}"))
}

impl<'w> Sink<'w> {
    fn start(
        format: ExportFormat,
        delimiter: u8,
        out: &'w mut (dyn Write + Send),
        title: &str,
        headers: &[String],
    ) -> Result<Sink<'w>> {
        match format {
            ExportFormat::Csv => {
                // A byte-order mark so spreadsheet programs read Cyrillic as UTF-8.
                out.write_all("\u{feff}".as_bytes()).map_err(io)?;
                let mut w = csv::WriterBuilder::new()
                    .delimiter(delimiter)
                    .from_writer(out);
                w.write_record(headers).map_err(io)?;
                Ok(Sink::Csv(Box::new(w)))
            }
            ExportFormat::Xlsx => {
                let mut book = Box::new(rust_xlsxwriter::Workbook::new());
                let bold = rust_xlsxwriter::Format::new().set_bold();
                let sheet = book.add_worksheet_with_constant_memory();
                let name: String = title
                    .chars()
                    .filter(|c| !"[]:*?/\\".contains(*c))
                    .take(31)
                    .collect();
                if !name.is_empty() {
                    sheet.set_name(name).map_err(io)?;
                }
                for (i, h) in headers.iter().enumerate() {
                    sheet
                        .write_string_with_format(0, i as u16, h, &bold)
                        .map_err(io)?;
                }
                Ok(Sink::Xlsx { book, row: 0, out })
            }
            ExportFormat::Json => {
                out.write_all(b"[").map_err(io)?;
                Ok(Sink::Json { out, first: true })
            }
        }
    }

    fn row(&mut self, cells: &[Cell], object: &Json) -> Result<()> {
        match self {
            Sink::Csv(w) => {
                w.write_record(cells.iter().map(|c| match c {
                    Cell::Text(s) => s.clone(),
                    Cell::Num(n) => n.to_string(),
                    Cell::Empty => String::new(),
                }))
                .map_err(io)?;
            }
            Sink::Xlsx { book, row, .. } => {
                *row += 1;
                let sheet = book.worksheet_from_index(0).map_err(io)?;
                for (i, c) in cells.iter().enumerate() {
                    match c {
                        Cell::Text(s) => {
                            sheet.write_string(*row, i as u16, s).map_err(io)?;
                        }
                        Cell::Num(n) => {
                            sheet.write_number(*row, i as u16, *n).map_err(io)?;
                        }
                        Cell::Empty => {}
                    }
                }
            }
            Sink::Json { out, first } => {
                if !*first {
                    out.write_all(b",\n").map_err(io)?;
                }
                *first = false;
                serde_json::to_writer(&mut **out, object).map_err(io)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Sink::Csv(mut w) => w.flush().map_err(io)?,
            Sink::Xlsx { mut book, out, .. } => {
                // The ZIP writer needs to seek; the finished workbook is then copied out.
                let mut file = tempfile::tempfile().map_err(io)?;
                book.save_to_writer(&mut file).map_err(io)?;
                use std::io::Seek;
                file.rewind().map_err(io)?;
                std::io::copy(&mut file, out).map_err(io)?;
            }
            Sink::Json { out, .. } => out.write_all(b"]").map_err(io)?,
        }
        Ok(())
    }
}

/// The role's export row limit (`None`: no limit).
async fn row_limit(tx: &mut Tx, user_id: i64) -> Result<Option<u64>> {
    let row = tx
        .fetch_optional(
            &Query::select()
                .column((Alias::new("roles"), Alias::new("export_row_limit")))
                .from(Alias::new("users"))
                .inner_join(
                    Alias::new("roles"),
                    SqlExpr::col((Alias::new("roles"), Alias::new("id")))
                        .equals((Alias::new("users"), Alias::new("role_id"))),
                )
                .and_where(SqlExpr::col((Alias::new("users"), Alias::new("id"))).eq(user_id))
                .to_owned(),
        )
        .await?;
    Ok(match row {
        Some(r) => r.i64("export_row_limit")?.map(|n| n.max(0) as u64),
        None => None,
    })
}

impl Store {
    /// Streams the records the filter matches into `out` and logs the export. Refused
    /// (nothing written, nothing logged) without the export right, behind a notebook
    /// gate, or when the set is larger than the role's row limit.
    pub async fn export(
        &self,
        actor: &Actor,
        req: &ExportRequest<'_>,
        out: &mut (dyn Write + Send),
    ) -> Result<ExportSummary> {
        let entity = req.entity;
        if !entity.is_business() || !actor.can(entity, Action::Export) {
            return fail(DomainError::Forbidden("export_forbidden"));
        }
        self.check_gate(actor, GateAction::Export, None).await?;
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend: self.backend(),
            actor,
            custom: &customs,
        };
        let defs = customs(entity);
        let columns = columns(entity, &defs, &req.columns)?;
        // Both rights narrow the rows: a role may export less than it reads.
        let read = ctx.conditions(entity, Action::Read, &req.params)?;
        let export = ctx.conditions(entity, Action::Export, &req.params)?;
        let cond = read.add(export);

        let mut tx = self.pool().begin().await?;
        if let Some(limit) = row_limit(&mut tx, actor.user_id).await? {
            let q = Query::select()
                .expr_as(SqlExpr::cust("COUNT(*)"), Alias::new("n"))
                .from_subquery(
                    Query::select()
                        .expr(SqlExpr::val(1))
                        .from(Alias::new(entity.table()))
                        .cond_where(cond.clone())
                        .limit(limit + 1)
                        .to_owned(),
                    Alias::new("matching"),
                )
                .to_owned();
            let n = match tx.fetch_optional(&q).await? {
                Some(r) => r.i64("n")?.unwrap_or(0) as u64,
                None => 0,
            };
            if n > limit {
                return fail(DomainError::Invalid(vec![FieldError::new(
                    "filter",
                    "export_row_limit",
                )
                .with("limit", limit)]));
            }
        }

        let headers: Vec<String> = columns.iter().map(|c| (req.header)(&c.name)).collect();
        let title = (req.header)(entity.plural());
        let mut sink = Sink::start(req.format, req.delimiter, out, &title, &headers)?;
        let shown = Shown {
            yes_no: req.yes_no,
            tz: actor.time_zone,
        };
        let mut rows = 0u64;
        let mut last_id = 0i64;
        loop {
            let mut q = ctx.select(entity, cond.clone().add(col("id").gt(last_id)));
            q.order_by(Alias::new("id"), Order::Asc).limit(BATCH);
            let fetched = tx.fetch_all(&q).await?;
            let batch = match fetched.first() {
                Some(first) => {
                    let reader = RecordReader::new(entity, first, None);
                    fetched
                        .iter()
                        .map(|r| reader.read(r))
                        .collect::<Result<Vec<_>, _>>()?
                }
                None => Vec::new(),
            };
            let Some(last) = batch.last() else { break };
            last_id = last.get("id").and_then(Json::as_i64).unwrap_or(i64::MAX);
            let titles = match req.format {
                ExportFormat::Json => BTreeMap::new(),
                _ => link_titles(&mut tx, &columns, &batch).await?,
            };
            for rec in &batch {
                let cells: Vec<Cell> = columns
                    .iter()
                    .map(|c| cell(c, raw(rec, &c.name), &titles, &shown))
                    .collect();
                let object = match req.format {
                    ExportFormat::Json => Json::Object(
                        columns
                            .iter()
                            .map(|c| (c.name.clone(), raw(rec, &c.name).clone()))
                            .collect(),
                    ),
                    _ => Json::Null,
                };
                sink.row(&cells, &object)?;
                rows += 1;
            }
            if (batch.len() as u64) < BATCH {
                break;
            }
        }
        tx.commit().await?;
        sink.finish()?;

        let mut tx = self.pool().begin_write().await?;
        let now = plotina_core::value::now();
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let log_id = tx
            .insert_id(
                Query::insert()
                    .into_table(Alias::new("export_log"))
                    .columns(
                        [
                            "user_id",
                            "entity",
                            "filter",
                            "q",
                            "columns",
                            "format",
                            "rows",
                            "source",
                            "created_at",
                        ]
                        .map(Alias::new),
                    )
                    .values_panic(crate::db::vals([
                        actor.user_id.into(),
                        entity.code().into(),
                        req.params.filter.clone().into(),
                        req.params.q.clone().into(),
                        json!(names).to_string().into(),
                        req.format.code().into(),
                        (rows as i64).into(),
                        req.source.into(),
                        now.into(),
                    ])),
            )
            .await?;
        if rows > req.notify_above {
            let text = format!(
                "{} ({}) exported {} {} as {} [{}]{}",
                actor.name,
                actor.login,
                rows,
                entity.plural(),
                req.format.code().to_uppercase(),
                req.source,
                req.params
                    .filter
                    .as_deref()
                    .filter(|f| !f.trim().is_empty())
                    .map(|f| format!(", filter: {f}"))
                    .unwrap_or_default(),
            );
            crate::automation::scheduler::notify_admins(
                &mut tx,
                &text,
                "export",
                &format!("export:{log_id}"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ExportSummary { log_id, rows })
    }

    /// The export log, newest first (administrators only).
    pub async fn export_log(&self, actor: &Actor, limit: u64) -> Result<Vec<ExportLogEntry>> {
        if !actor.is_admin {
            return fail(DomainError::Forbidden("forbidden_action"));
        }
        let mut tx = self.pool().begin().await?;
        let rows = tx
            .fetch_all(
                &Query::select()
                    .columns(
                        [
                            "id",
                            "user_id",
                            "entity",
                            "filter",
                            "q",
                            "columns",
                            "format",
                            "rows",
                            "source",
                            "created_at",
                        ]
                        .map(Alias::new),
                    )
                    .from(Alias::new("export_log"))
                    .order_by(Alias::new("id"), Order::Desc)
                    .limit(limit.clamp(1, 1000))
                    .to_owned(),
            )
            .await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(ExportLogEntry {
                id: r.i64("id")?.unwrap_or_default(),
                user_id: r.i64("user_id")?.unwrap_or_default(),
                entity: r.text("entity")?.unwrap_or_default(),
                filter: r.text("filter")?,
                q: r.text("q")?,
                columns: r
                    .text("columns")?
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or(Json::Null),
                format: r.text("format")?.unwrap_or_default(),
                rows: r.i64("rows")?.unwrap_or_default(),
                source: r.text("source")?.unwrap_or_default(),
                created_at: json!(r.datetime("created_at")?),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+7 912"), "'+7 912");
        assert_eq!(neutralise("-1+2"), "'-1+2");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("\tx"), "'\tx");
        assert_eq!(neutralise("ООО «Ромашка»"), "ООО «Ромашка»");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn numbers_stay_numbers_and_text_is_neutralised() {
        let num = Column {
            name: "amount".into(),
            kind: ColumnKind::Number,
        };
        let text = Column {
            name: "title".into(),
            kind: ColumnKind::Other,
        };
        let when = Column {
            name: "created_at".into(),
            kind: ColumnKind::DateTime,
        };
        let titles = BTreeMap::new();
        let shown = Shown {
            yes_no: ("да", "нет"),
            tz: chrono_tz::Europe::Moscow,
        };
        assert_eq!(
            cell(&num, &json!("-1500.50"), &titles, &shown),
            Cell::Num(-1500.5)
        );
        assert_eq!(
            cell(&text, &json!("-1500"), &titles, &shown),
            Cell::Text("'-1500".into())
        );
        assert_eq!(
            cell(&text, &json!(["vip", "=cmd"]), &titles, &shown),
            Cell::Text("vip, =cmd".into())
        );
        assert_eq!(
            cell(&when, &json!("2026-11-23T21:30:00.000Z"), &titles, &shown),
            Cell::Text("2026-11-24 00:30".into())
        );
    }
}
