//! Lists: filter, scope, sort and keyset (cursor) pagination. No OFFSET and no COUNT on
//! list pages: a page costs the same at row 10 and at row 1,000,000.

use base64::Engine as _;
use plotina_core::error::{DomainError, FieldError};
use plotina_core::filter::{self, Expr};
use plotina_core::policy::{Action, Actor};
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Entity, FieldKind};
use sea_query::{
    Alias, Cond, Expr as SqlExpr, Order, Query, SelectStatement, SimpleExpr, Value as SqlValue,
};
use serde_json::{json, Value as Json};

use crate::db::{Backend, Row};
use crate::error::{fail, Result};
use crate::filter_sql::{col, FilterCtx};
use crate::rows::{Record, RecordReader};
use crate::scope::visible;
use crate::search::{IndexUse, DENSE_MATCHES};

pub const MAX_LIMIT: u64 = 500;
pub const DEFAULT_LIMIT: u64 = 50;

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// List the trash (soft-deleted records) instead of live records.
    pub trash: bool,
    /// Free-text search (name, INN, phone, e-mail).
    pub q: Option<String>,
    /// Extra conditions added by the caller (related lists, kanban columns).
    pub and: Vec<Expr>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Page {
    pub data: Vec<Record>,
    pub next_cursor: Option<String>,
}

/// One key of the ORDER BY, with what is needed to resume after a row.
struct SortKey {
    expr: SqlExpr,
    desc: bool,
    kind: KeyKind,
    name: String,
}

#[derive(Clone, Copy, PartialEq)]
enum KeyKind {
    Int,
    Text,
    Date,
    DateTime,
    Bool,
    /// `CASE WHEN x IS NULL THEN 1 ELSE 0 END`, so NULLs sort last in both engines.
    NullFlag,
    CustomNumber,
    CustomText,
    /// SQLite's JSON gives 1/0 and PostgreSQL's text 'true'/'false': compared as booleans.
    CustomBool,
}

fn key_kind(kind: FieldKind) -> Option<KeyKind> {
    Some(match kind {
        FieldKind::Id | FieldKind::Int { .. } | FieldKind::Ref(_) | FieldKind::Money => {
            KeyKind::Int
        }
        FieldKind::Date => KeyKind::Date,
        FieldKind::DateTime => KeyKind::DateTime,
        FieldKind::Bool => KeyKind::Bool,
        k if k.is_json() => return None,
        _ => KeyKind::Text,
    })
}

pub fn bad(field: &str, code: &'static str) -> DomainError {
    DomainError::BadRequest(FieldError::new(field, code))
}

fn custom_expr(backend: Backend, def: &CustomFieldDef) -> (SqlExpr, KeyKind) {
    let (pg_cast, sqlite_cast, kind) = match def.kind.as_str() {
        "number" | "money" | "link" => ("::numeric", Some("REAL"), KeyKind::CustomNumber),
        "bool" => ("::boolean", None, KeyKind::CustomBool),
        _ => ("", None, KeyKind::CustomText),
    };
    let expr = crate::filter_sql::custom_value_sql(backend, &def.key, pg_cast, sqlite_cast);
    (SqlExpr::expr(expr), kind)
}

fn sort_keys(
    backend: Backend,
    entity: Entity,
    custom: &[CustomFieldDef],
    sort: Option<&str>,
) -> Result<Vec<SortKey>> {
    let spec = sort
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("-updated_at");
    let mut keys = Vec::new();
    let mut first_desc = None;
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (desc, name) = match part.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, part.strip_prefix('+').unwrap_or(part)),
        };
        first_desc.get_or_insert(desc);
        if keys.len() >= 8 {
            return fail(bad("sort", "sort_too_many"));
        }
        let (expr, kind, nullable) = if let Some(key) = name.strip_prefix("custom.") {
            // Multi-selects are lists, which do not sort (like built-in list fields).
            let def = custom
                .iter()
                .find(|d| d.key == key && d.kind != "multi_select")
                .ok_or_else(|| bad("sort", "sort_unknown_field"))?;
            let (e, k) = custom_expr(backend, def);
            (e, k, true)
        } else {
            let def = entity
                .field(name)
                .ok_or_else(|| bad("sort", "sort_unknown_field"))?;
            let kind = key_kind(def.kind).ok_or_else(|| bad("sort", "sort_unknown_field"))?;
            let nullable = !matches!(def.name, "id" | "created_at" | "updated_at" | "version")
                && !matches!(def.kind, FieldKind::Bool)
                && !def.required;
            (col(def.name), kind, nullable)
        };
        if name == "id" {
            keys.push(SortKey {
                expr,
                desc,
                kind,
                name: name.into(),
            });
            return Ok(keys);
        }
        if nullable {
            keys.push(SortKey {
                expr: SqlExpr::expr(SqlExpr::case(expr.clone().is_null(), 1).finally(0)),
                desc: false,
                kind: KeyKind::NullFlag,
                name: format!("{name}#null"),
            });
        }
        keys.push(SortKey {
            expr,
            desc,
            kind,
            name: name.into(),
        });
    }
    // The id makes the order total, which keyset pagination needs.
    keys.push(SortKey {
        expr: col("id"),
        desc: first_desc.unwrap_or(true),
        kind: KeyKind::Int,
        name: "id".into(),
    });
    Ok(keys)
}

/// Reads a sort key's value from a fetched row, as it will be written into the cursor.
fn key_value(key: &SortKey, row: &Row, rec: &Record) -> Result<Json> {
    let name = key.name.trim_end_matches("#null");
    Ok(match key.kind {
        KeyKind::NullFlag => {
            let v = if let Some(k) = name.strip_prefix("custom.") {
                rec.get("custom")
                    .and_then(|c| c.get(k))
                    .cloned()
                    .unwrap_or(Json::Null)
            } else {
                rec.get(name).cloned().unwrap_or(Json::Null)
            };
            json!(i64::from(v.is_null()))
        }
        KeyKind::Int => json!(row.i64(name)?),
        KeyKind::CustomNumber | KeyKind::CustomText | KeyKind::CustomBool => {
            let k = name.trim_start_matches("custom.");
            rec.get("custom")
                .and_then(|c| c.get(k))
                .cloned()
                .unwrap_or(Json::Null)
        }
        _ => rec.get(name).cloned().unwrap_or(Json::Null),
    })
}

fn cursor_value(backend: Backend, key: &SortKey, v: &Json) -> Option<SqlValue> {
    if v.is_null() {
        return None;
    }
    Some(match key.kind {
        KeyKind::Int | KeyKind::NullFlag => v.as_i64()?.into(),
        KeyKind::Bool => v.as_bool()?.into(),
        KeyKind::Date => plotina_core::value::parse_date(v.as_str()?).ok()?.into(),
        KeyKind::DateTime => plotina_core::value::parse_datetime(v.as_str()?)
            .ok()?
            .into(),
        KeyKind::Text => v.as_str()?.to_string().into(),
        KeyKind::CustomBool => v.as_bool()?.into(),
        KeyKind::CustomText => match v {
            Json::String(s) => s.clone().into(),
            other => other.to_string().into(),
        },
        KeyKind::CustomNumber => {
            let d: rust_decimal::Decimal = match v {
                Json::String(s) => s.parse().ok()?,
                Json::Number(n) => n.to_string().parse().ok()?,
                _ => return None,
            };
            match backend {
                Backend::Sqlite => rust_decimal::prelude::ToPrimitive::to_f64(&d)?.into(),
                Backend::Postgres => d.into(),
            }
        }
    })
}

/// `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR …` in each key's direction. A NULL value can
/// only follow an equal null-flag, so it counts as equal and is never "after".
fn after_cursor(backend: Backend, keys: &[SortKey], values: &[Json]) -> Result<SimpleExpr> {
    if values.len() != keys.len() {
        return fail(bad("cursor", "cursor_invalid"));
    }
    let mut any = Cond::any();
    for i in 0..keys.len() {
        let Some(v) = cursor_value(backend, &keys[i], &values[i]) else {
            if values[i].is_null() {
                continue;
            }
            return fail(bad("cursor", "cursor_invalid"));
        };
        let mut all = Cond::all();
        for j in 0..i {
            if let Some(eq) = cursor_value(backend, &keys[j], &values[j]) {
                all = all.add(keys[j].expr.clone().eq(eq));
            } else if !values[j].is_null() {
                return fail(bad("cursor", "cursor_invalid"));
            }
        }
        let step = if keys[i].desc {
            keys[i].expr.clone().lt(v)
        } else {
            keys[i].expr.clone().gt(v)
        };
        any = any.add(all.add(step));
    }
    Ok(any.into())
}

fn encode_cursor(sort: &str, values: Vec<Json>) -> String {
    let payload = json!({"s": sort, "v": values});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string())
}

fn decode_cursor(cursor: &str, sort: &str) -> Result<Vec<Json>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad("cursor", "cursor_invalid"))?;
    let v: Json = serde_json::from_slice(&bytes).map_err(|_| bad("cursor", "cursor_invalid"))?;
    if v["s"].as_str() != Some(sort) {
        return fail(bad("cursor", "cursor_sort_mismatch"));
    }
    v["v"]
        .as_array()
        .cloned()
        .ok_or_else(|| bad("cursor", "cursor_invalid").into())
}

/// Everything a query over one entity needs to know about the request.
pub struct QueryCtx<'a> {
    pub backend: Backend,
    pub actor: &'a Actor,
    pub custom: &'a (dyn Fn(Entity) -> Vec<CustomFieldDef> + Sync),
}

impl QueryCtx<'_> {
    pub fn filter_ctx<'b>(&'b self, input: &'b str) -> FilterCtx<'b> {
        FilterCtx {
            backend: self.backend,
            actor: self.actor,
            input,
            custom: self.custom,
        }
    }

    /// The WHERE of a list: scope, trash, filter text, caller's extra conditions, search.
    pub fn conditions(&self, entity: Entity, action: Action, params: &ListParams) -> Result<Cond> {
        self.conditions_with(entity, action, params, IndexUse::Drive)
    }

    /// `conditions`, with the search's word index used as `plan` says.
    fn conditions_with(
        &self,
        entity: Entity,
        action: Action,
        params: &ListParams,
        plan: IndexUse,
    ) -> Result<Cond> {
        let mut cond = Cond::all();
        if let Some(scope) = visible(self.actor, entity, action) {
            cond = cond.add(scope);
        }
        cond = cond.add(if params.trash {
            col("deleted_at").is_not_null()
        } else {
            col("deleted_at").is_null()
        });
        if let Some(text) = params.filter.as_deref() {
            if let Some(expr) = filter::parse(text).map_err(DomainError::BadFilter)? {
                cond = cond.add(
                    self.filter_ctx(text)
                        .compile(entity, &expr)
                        .map_err(DomainError::BadFilter)?,
                );
            }
        }
        for expr in &params.and {
            cond = cond.add(
                self.filter_ctx("")
                    .compile(entity, expr)
                    .map_err(DomainError::BadFilter)?,
            );
        }
        if let Some(q) = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            cond = cond.add(crate::search::condition(self.backend, entity, q, plan));
        }
        Ok(cond)
    }

    pub fn select(&self, entity: Entity, cond: Cond) -> SelectStatement {
        self.select_columns(entity, cond, None)
    }

    /// `select` of only the built-in fields in `columns` (all fields and `custom` when
    /// `None`).
    fn select_columns(
        &self,
        entity: Entity,
        cond: Cond,
        columns: Option<&[&str]>,
    ) -> SelectStatement {
        let mut q = Query::select();
        q.from(Alias::new(entity.table()));
        for f in entity.fields() {
            if columns.is_none_or(|c| c.contains(&f.name)) {
                q.column(Alias::new(f.name));
            }
        }
        if entity.is_business() && columns.is_none() {
            q.column(Alias::new("custom"));
        }
        q.cond_where(cond);
        q
    }
}

pub async fn list(
    tx: &mut crate::db::Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    action: Action,
    params: &ListParams,
) -> Result<Page> {
    list_columns(tx, ctx, entity, action, params, None).await
}

/// The page size asked for, within 1..=[`MAX_LIMIT`].
fn page_limit(params: &ListParams) -> Result<u64> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return fail(bad("limit", "limit_range"));
    }
    Ok(limit)
}

/// What a list statement is built from: the page size, the order (and its text, which
/// cursors carry), the conditions with the cursor's, and the columns read.
struct ListQuery<'c> {
    limit: u64,
    sort_text: String,
    keys: Vec<SortKey>,
    cond: Cond,
    projection: Option<Vec<&'c str>>,
}

/// The parts of a list statement shared by [`list_columns`] and [`list_grouped`]. The
/// columns read are `columns` plus `id`, `extra` and the sort's fields (the order and the
/// cursor need them); all columns when `columns` is `None` or the order is by a custom
/// field (its cursor values are kept in `custom`).
async fn prepare<'c>(
    tx: &mut crate::db::Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    action: Action,
    params: &ListParams,
    columns: Option<&[&'c str]>,
    extra: Option<&'static str>,
) -> Result<ListQuery<'c>> {
    let limit = page_limit(params)?;
    let customs = (ctx.custom)(entity);
    let sort_text = params.sort.clone().unwrap_or_default();
    let keys = sort_keys(ctx.backend, entity, &customs, params.sort.as_deref())?;
    let plan = search_plan(tx, ctx.backend, entity, params, &keys).await?;
    let mut cond = ctx.conditions_with(entity, action, params, plan)?;
    if let Some(c) = params.cursor.as_deref().filter(|c| !c.is_empty()) {
        let values = decode_cursor(c, &sort_text)?;
        cond = cond.add(after_cursor(ctx.backend, &keys, &values)?);
    }
    let custom_order = keys.iter().any(|k| k.name.starts_with("custom."));
    let projection = columns.filter(|_| !custom_order).map(|c| {
        let mut all: Vec<&'c str> = c.to_vec();
        all.push("id");
        all.extend(extra);
        for k in &keys {
            let name = k.name.trim_end_matches("#null");
            if let Some(f) = entity.field(name) {
                all.push(f.name);
            }
        }
        all
    });
    Ok(ListQuery {
        limit,
        sort_text,
        keys,
        cond,
        projection,
    })
}

/// The list's order and one row more than the page (to know whether another follows).
fn order_page(q: &mut SelectStatement, keys: &[SortKey], limit: u64) {
    for k in keys {
        q.order_by_expr(
            k.expr.clone().into(),
            if k.desc { Order::Desc } else { Order::Asc },
        );
    }
    q.limit(limit + 1);
}

/// `list` reading only the built-in fields in `columns` (plus `id` and the sort's
/// fields, which the order and the cursor need): for pages that show a name, not a
/// record.
pub async fn list_columns(
    tx: &mut crate::db::Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    action: Action,
    params: &ListParams,
    columns: Option<&[&str]>,
) -> Result<Page> {
    let ListQuery {
        limit,
        sort_text,
        keys,
        cond,
        projection,
    } = prepare(tx, ctx, entity, action, params, columns, None).await?;
    let mut q = ctx.select_columns(entity, cond, projection.as_deref());
    order_page(&mut q, &keys, limit);
    let rows = tx.fetch_all(&q).await?;
    let Some(first) = rows.first() else {
        return Ok(Page::default());
    };
    let reader = RecordReader::new(entity, first, projection.as_deref());
    page_of(rows.iter(), &reader, &keys, &sort_text, limit)
}

/// A page from the rows of a list statement (at most one more than `limit`, which only
/// says that another page follows, with the cursor of the page's last record).
fn page_of<'r>(
    rows: impl ExactSizeIterator<Item = &'r Row>,
    reader: &RecordReader,
    keys: &[SortKey],
    sort_text: &str,
    limit: u64,
) -> Result<Page> {
    let more = rows.len() as u64 > limit;
    let mut data = Vec::with_capacity(rows.len().min(limit as usize));
    let mut next_cursor = None;
    for (i, row) in rows.enumerate().take(limit as usize) {
        let rec = reader.read(row)?;
        if more && i + 1 == limit as usize {
            let values = keys
                .iter()
                .map(|k| key_value(k, row, &rec))
                .collect::<Result<Vec<_>>>()?;
            next_cursor = Some(encode_cursor(sort_text, values));
        }
        data.push(rec);
    }
    Ok(Page { data, next_cursor })
}

/// The lists of `params` for each value of the built-in field `split` in `values` (a
/// kanban's columns: `stage_id` per stage), one page each, in the order of `values`: the
/// same pages as one [`list_columns`] per value with `split = value` added to `params`,
/// read with ONE statement (`UNION ALL` of one bounded select per value), so the
/// conditions, the order and the record reader are built once, not per value.
#[allow(clippy::too_many_arguments)]
pub async fn list_grouped(
    tx: &mut crate::db::Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    action: Action,
    params: &ListParams,
    split: &'static str,
    values: &[i64],
    columns: Option<&[&str]>,
) -> Result<Vec<Page>> {
    page_limit(params)?;
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let ListQuery {
        limit,
        sort_text,
        keys,
        cond,
        projection,
    } = prepare(tx, ctx, entity, action, params, columns, Some(split)).await?;
    let mut statement: Option<SelectStatement> = None;
    for (i, value) in values.iter().enumerate() {
        let mut q = ctx.select_columns(
            entity,
            cond.clone().add(col(split).eq(*value)),
            projection.as_deref(),
        );
        order_page(&mut q, &keys, limit);
        // Each part is a subquery: both engines keep its ORDER BY and LIMIT inside a
        // UNION ALL only that way.
        let part = Query::select()
            .column(sea_query::Asterisk)
            .from_subquery(q, Alias::new(format!("g{i}")))
            .to_owned();
        match statement.as_mut() {
            None => statement = Some(part),
            Some(all) => {
                all.union(sea_query::UnionType::All, part);
            }
        }
    }
    let Some(statement) = statement else {
        return Ok(Vec::new());
    };
    let rows = tx.fetch_all(&statement).await?;
    let Some(first) = rows.first() else {
        return Ok(values.iter().map(|_| Page::default()).collect());
    };
    let reader = RecordReader::new(entity, first, projection.as_deref());
    let at = first.position(split);
    let mut groups: Vec<Vec<&Row>> = vec![Vec::new(); values.len()];
    let mut last = 0;
    for row in &rows {
        let Some(v) = (match at {
            Some(i) => row.i64_at(i)?,
            None => row.i64(split)?,
        }) else {
            continue;
        };
        // The parts mostly come in the order of `values`: the previous row's group first.
        if values[last] != v {
            match values.iter().position(|x| *x == v) {
                Some(g) => last = g,
                None => continue,
            }
        }
        groups[last].push(row);
    }
    let mut pages = Vec::with_capacity(values.len());
    for group in groups {
        pages.push(page_of(
            group.into_iter(),
            &reader,
            &keys,
            &sort_text,
            limit,
        )?);
    }
    Ok(pages)
}

/// How a search should use its word index in a list (see [`IndexUse`]). Walking the
/// order's index only pays when the list is in `updated_at` order (the index the walk
/// follows; every searchable table has one) and the query matches many records, which
/// a bounded count of the index's matches tells before the list query runs.
async fn search_plan(
    tx: &mut crate::db::Tx,
    backend: Backend,
    entity: Entity,
    params: &ListParams,
    keys: &[SortKey],
) -> Result<IndexUse> {
    let Some(q) = params.q.as_deref() else {
        return Ok(IndexUse::Drive);
    };
    if keys.first().is_none_or(|k| k.name != "updated_at") {
        return Ok(IndexUse::Drive);
    }
    let Some((table, terms)) = crate::search::index_query(backend, entity, q) else {
        return Ok(IndexUse::Drive);
    };
    let mut inner = Query::select();
    inner
        .expr(SqlExpr::cust("rowid"))
        .from(Alias::new(&table))
        .and_where(SqlExpr::cust_with_values(
            format!("{table} MATCH ?"),
            [terms],
        ))
        .limit(DENSE_MATCHES as u64 + 1);
    let count = Query::select()
        .expr_as(SqlExpr::cust("COUNT(*)"), Alias::new("n"))
        .from_subquery(inner, Alias::new("matches"))
        .to_owned();
    let n = tx
        .fetch_optional(&count)
        .await?
        .and_then(|r| r.i64("n").ok().flatten())
        .unwrap_or(0);
    Ok(if n > DENSE_MATCHES {
        IndexUse::Filter
    } else {
        IndexUse::Drive
    })
}

/// Counts matching records, stopping at `cap`: a badge needs "999+", not a full scan.
pub async fn count(
    tx: &mut crate::db::Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    params: &ListParams,
    cap: u64,
) -> Result<u64> {
    let cond = ctx.conditions(entity, Action::Read, params)?;
    let mut inner = Query::select();
    inner
        .expr(SqlExpr::val(1))
        .from(Alias::new(entity.table()))
        .cond_where(cond)
        .limit(cap);
    let q = Query::select()
        .expr_as(SqlExpr::cust("COUNT(*)"), Alias::new("n"))
        .from_subquery(inner, Alias::new("matching"))
        .to_owned();
    let row = tx.fetch_optional(&q).await?;
    Ok(row.and_then(|r| r.i64("n").ok().flatten()).unwrap_or(0) as u64)
}
