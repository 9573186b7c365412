//! OpenAPI 3.1 of the API, generated from the same record metadata that drives
//! validation and storage, so the document cannot drift from what the server does.

use axum::routing::get;
use axum::{Json, Router};
use plotina_core::schema::{Access, Entity, FieldDef, FieldKind};
use serde_json::{json, Map, Value};

use crate::state::AppState;

fn nullable(mut schema: Value, nullable: bool) -> Value {
    if nullable {
        if let Some(t) = schema.get("type").cloned() {
            schema["type"] = match t {
                Value::String(s) => json!([s, "null"]),
                Value::Array(mut a) => {
                    a.push(json!("null"));
                    Value::Array(a)
                }
                other => other,
            };
        }
        if let Some(Value::Array(e)) = schema.get_mut("enum") {
            e.push(Value::Null);
        }
    }
    schema
}

/// The schema of a field as the API returns it.
fn output_schema(f: &FieldDef) -> Value {
    let s = match f.kind {
        FieldKind::Id | FieldKind::Int { .. } | FieldKind::Ref(_) => {
            json!({"type": "integer", "format": "int64"})
        }
        FieldKind::Money => json!({"type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$"}),
        FieldKind::Date => json!({"type": "string", "format": "date"}),
        FieldKind::DateTime => json!({"type": "string", "format": "date-time"}),
        FieldKind::Bool => json!({"type": "boolean"}),
        FieldKind::Select(opts) => json!({"type": "string", "enum": opts}),
        FieldKind::MultiSelect(opts) => {
            json!({"type": "array", "items": {"type": "string", "enum": opts}})
        }
        FieldKind::Phones | FieldKind::Emails | FieldKind::Tags => {
            json!({"type": "array", "items": {"type": "string"}})
        }
        FieldKind::RefList(_) => {
            json!({"type": "array", "items": {"type": "integer", "format": "int64"}})
        }
        FieldKind::Addresses => json!({"type": "array", "items": {"type": "object", "properties": {
            "kind": {"type": "string"}, "value": {"type": "string"}, "name": {"type": "string"}}, "required": ["kind", "value"]}}),
        FieldKind::CompanyLinks => {
            json!({"type": "array", "items": {"type": "object", "properties": {
            "company_id": {"type": "integer", "format": "int64"}, "role": {"type": ["string", "null"]}}, "required": ["company_id"]}})
        }
        FieldKind::StringMap => {
            json!({"type": "object", "additionalProperties": {"type": "string"}})
        }
        FieldKind::Json => json!({"type": ["object", "array"]}),
        _ => json!({"type": "string"}),
    };
    let always_set = matches!(f.name, "id" | "created_at" | "updated_at" | "version")
        || f.kind == FieldKind::Bool
        || f.kind.is_json();
    nullable(s, !always_set && !f.required)
}

/// The schema of a field as a client may send it (what the parser accepts).
fn input_schema(f: &FieldDef) -> Value {
    let s = match f.kind {
        FieldKind::Int { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        FieldKind::Ref(_) => json!({"type": "integer", "minimum": 1}),
        FieldKind::Money => {
            json!({"type": ["string", "number"], "description": "Rubles with at most 2 decimals: \"1234.50\" or \"1 234,50\""})
        }
        FieldKind::Text { max } => json!({"type": "string", "maxLength": max}),
        FieldKind::Inn => {
            json!({"type": "string", "description": "10 or 12 digits with a valid checksum"})
        }
        FieldKind::Kpp => json!({"type": "string", "pattern": "^[0-9]{4}[0-9A-Z]{2}[0-9]{3}$"}),
        FieldKind::Phone => {
            json!({"type": "string", "description": "Any format; default region RU: 8 (912) 345-67-89"})
        }
        FieldKind::Phones => json!({"type": "array", "items": {"type": "string"}, "maxItems": 100}),
        FieldKind::Emails | FieldKind::Tags => {
            json!({"type": "array", "items": {"type": "string"}, "maxItems": 100})
        }
        FieldKind::RefList(_) => {
            json!({"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 100})
        }
        _ => {
            let mut o = output_schema(f);
            if let Some(Value::Array(t)) = o.get_mut("type") {
                t.retain(|x| x != "null");
            }
            if let Some(Value::Array(e)) = o.get_mut("enum") {
                e.retain(|x| !x.is_null());
            }
            o
        }
    };
    nullable(s, !f.required)
}

fn pascal(code: &str) -> String {
    code.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn entity_schemas(e: Entity, schemas: &mut Map<String, Value>) {
    let name = pascal(e.code());
    let mut props = Map::new();
    for f in e.fields() {
        props.insert(f.name.into(), output_schema(f));
    }
    if e.is_business() {
        props.insert(
            "custom".into(),
            json!({"type": "object", "description": "Custom field values by key"}),
        );
    }
    let required: Vec<&str> = props.keys().map(String::as_str).collect::<Vec<_>>();
    schemas.insert(
        name.clone(),
        json!({"type": "object", "properties": props.clone(), "required": required}),
    );
    for (suffix, create) in [("Create", true), ("Update", false)] {
        let mut input = Map::new();
        let mut req = Vec::new();
        for f in e.fields() {
            let ok = match f.access {
                Access::Write => true,
                Access::CreateOnly => create,
                Access::System => false,
            };
            if ok {
                input.insert(f.name.into(), input_schema(f));
                if create && f.required {
                    req.push(f.name);
                }
            }
        }
        if e.is_business() {
            input.insert("custom".into(), json!({"type": "object"}));
        }
        schemas.insert(format!("{name}{suffix}"), json!({"type": "object", "properties": input, "required": req, "additionalProperties": false}));
    }
    schemas.insert(
        format!("{name}Page"),
        json!({"type": "object", "properties": {
        "data": {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}},
        "next_cursor": {"type": ["string", "null"]}}, "required": ["data", "next_cursor"]}),
    );
}

/// A kanban card: the fields of `plotina_store::board::CARD_FIELDS` always, any other
/// deal field (and `custom`) when the board's `fields` asks for it.
fn deal_card_schema() -> Value {
    let mut props = Map::new();
    for f in Entity::Deal.fields() {
        props.insert(f.name.into(), output_schema(f));
    }
    props.insert(
        "custom".into(),
        json!({"type": "object", "description": "Custom field values by key (with `fields=*`)"}),
    );
    json!({"type": "object", "properties": props, "required": plotina_store::board::CARD_FIELDS,
        "description": "A deal as a kanban card: the fields a board shows; `fields` adds others"})
}

fn ok(schema: Value, description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn problem() -> Value {
    json!({"description": "Problem (RFC 9457), message in the caller's language", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

fn op(
    summary: &str,
    tag: &str,
    params: Vec<Value>,
    body: Option<Value>,
    responses: Vec<(&str, Value)>,
) -> Value {
    let mut r = Map::new();
    for (code, v) in responses {
        r.insert(code.into(), v);
    }
    r.insert("default".into(), problem());
    let mut o = json!({"summary": summary, "tags": [tag], "parameters": params, "responses": r});
    if let Some(b) = body {
        o["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": b}}});
    }
    o
}

fn qp(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}})
}

fn header(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "header", "required": false, "schema": {"type": "string"}, "description": description})
}

fn sref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn entity_paths(e: Entity, paths: &mut Map<String, Value>) {
    let name = pascal(e.code());
    let tag = e.plural();
    let base = format!("/api/v1/{}", e.plural());
    let list_params = vec![
        qp(
            "filter",
            json!({"type": "string", "maxLength": 4000}),
            "Filter language, e.g. stage = \"won\" and amount >= 100000",
        ),
        qp(
            "sort",
            json!({"type": "string"}),
            "Comma-separated fields, '-' for descending",
        ),
        qp(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 500}),
            "Page size (default 50)",
        ),
        qp(
            "cursor",
            json!({"type": "string"}),
            "next_cursor of the previous page",
        ),
        qp("trash", json!({"type": "boolean"}), "List deleted records"),
        qp(
            "q",
            json!({"type": "string", "maxLength": 200}),
            "Search by name, INN, phone or e-mail",
        ),
    ];
    paths.insert(base.clone(), json!({
        "get": op(&format!("List {tag}"), tag, list_params, None, vec![("200", ok(sref(&format!("{name}Page")), "A page"))]),
        "post": op(&format!("Create a {}", e.code()), tag, vec![header("Idempotency-Key", "Retry key: a repeated request returns the first result")], Some(sref(&format!("{name}Create"))),
            vec![("201", ok(sref(&name), "Created")), ("200", ok(sref(&name), "Replayed by Idempotency-Key"))]),
    }));
    paths.insert(format!("{base}/count"), json!({
        "get": op(&format!("Count {tag}"), tag, vec![
            qp("filter", json!({"type": "string", "maxLength": 4000}), "Filter language"),
            qp("q", json!({"type": "string", "maxLength": 200}), "Search"),
            qp("cap", json!({"type": "integer", "minimum": 1, "maximum": 1000000}), "Stop counting at this number")],
            None, vec![("200", ok(json!({"type": "object", "properties": {"count": {"type": "integer"}, "capped": {"type": "boolean"}}, "required": ["count", "capped"]}), "Count"))]),
    }));
    paths.insert(format!("{base}/{{id}}"), json!({
        "get": op(&format!("Get a {}", e.code()), tag, vec![id_param(), qp("trash", json!({"type": "boolean"}), "Read from the trash")], None, vec![("200", ok(sref(&name), "The record; ETag carries the version"))]),
        "patch": op(&format!("Update a {}", e.code()), tag, vec![id_param(), header("If-Match", "Version from the ETag: a stale one answers 412")], Some(sref(&format!("{name}Update"))), vec![("200", ok(sref(&name), "Updated"))]),
        "delete": op(&format!("Move a {} to the trash", e.code()), tag, vec![id_param(), header("If-Match", "Version from the ETag")], None, vec![("204", json!({"description": "Deleted"}))]),
    }));
    paths.insert(format!("{base}/{{id}}/restore"), json!({
        "post": op("Restore from the trash", tag, vec![id_param()], None, vec![("200", ok(sref(&name), "Restored"))]),
    }));
    paths.insert(format!("{base}/{{id}}/history"), json!({
        "get": op("Field history, newest first", tag, vec![id_param(), qp("before", json!({"type": "integer"}), "History id to continue before"), qp("limit", json!({"type": "integer", "minimum": 1, "maximum": 500}), "Page size in history rows: a record's creation is one row, listed as one entry per field it set (all with the row's id), so a page may hold more entries than rows")], None,
            vec![("200", ok(json!({"type": "object", "properties": {"data": {"type": "array", "items": sref("HistoryEntry")}, "next_before": {"type": ["integer", "null"]}}, "required": ["data"]}), "History"))]),
    }));
}

pub fn document() -> Value {
    let mut schemas = Map::new();
    let mut paths = Map::new();
    for e in Entity::ALL {
        entity_schemas(*e, &mut schemas);
        entity_paths(*e, &mut paths);
    }
    schemas.insert("Problem".into(), json!({"type": "object", "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
        "code": {"type": "string"}, "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}, "required": ["field", "code", "message"]}}},
        "required": ["type", "title", "status", "code", "errors"]}));
    schemas.insert("HistoryEntry".into(), json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "action": {"type": "string"}, "field": {"type": ["string", "null"]}, "old_value": {}, "new_value": {},
        "changed_at": {"type": "string", "format": "date-time"}, "changed_by": {"type": ["integer", "null"]}}, "required": ["id", "action", "changed_at"]}));
    schemas.insert("DealCard".into(), deal_card_schema());
    let any_obj = json!({"type": "object"});
    paths.insert("/api/v1/deals/{id}/move".into(), json!({"post": op("Move a deal to a stage (kanban)", "deals", vec![id_param(), header("If-Match", "Version")],
        Some(json!({"type": "object", "properties": {"stage_id": {"type": "integer", "minimum": 1}, "lost_reason": {"type": ["string", "null"]}}, "required": ["stage_id"], "additionalProperties": false})),
        vec![("200", ok(sref("Deal"), "Moved"))])}));
    paths.insert("/api/v1/deals/board".into(), json!({"get": op("Kanban of a pipeline: stages with counts, sums and first cards", "deals",
        vec![json!({"name": "pipeline", "in": "query", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}}),
             qp("filter", json!({"type": "string", "maxLength": 4000}), "Filter language"),
             qp("q", json!({"type": "string", "maxLength": 200}), "Search"),
             qp("cards", json!({"type": "integer", "minimum": 1, "maximum": 100}), "Cards per column (default 20)"),
             qp("fields", json!({"type": "string", "maxLength": 1000}), "More deal fields per card, comma-separated (`*`: whole records with custom fields); an unknown name answers 400")], None,
        vec![("200", ok(json!({"type": "object", "properties": {"pipeline": sref("Pipeline"), "columns": {"type": "array", "items": {"type": "object", "properties": {
            "stage": sref("Stage"), "count": {"type": "integer"},
            "totals": {"type": "array", "items": {"type": "object", "properties": {"currency": {"type": "string"}, "count": {"type": "integer"}, "sum": {"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$"}}, "required": ["currency", "count", "sum"]}},
            "deals": {"type": "array", "items": sref("DealCard")}, "next_cursor": {"type": ["string", "null"]}},
            "required": ["stage", "count", "totals", "deals", "next_cursor"]}}}, "required": ["pipeline", "columns"]}), "Board"))])}));
    paths.insert("/api/v1/deals/{id}/stage-history".into(), json!({"get": op("Stage changes of a deal", "deals", vec![id_param()], None,
        vec![("200", ok(json!({"type": "object", "properties": {"data": {"type": "array", "items": any_obj}}, "required": ["data"]}), "Stage changes"))])}));
    paths.insert("/api/v1/deals/{id}/children".into(), json!({"get": op("Child deals in other pipelines", "deals", vec![id_param(), qp("limit", json!({"type": "integer", "minimum": 1, "maximum": 500}), "Page size")], None,
        vec![("200", ok(sref("DealPage"), "Children"))])}));
    paths.insert("/api/v1/leads/{id}/convert".into(), json!({"post": op("Convert a lead into company, contact and deal", "leads", vec![id_param()],
        Some(json!({"type": "object", "properties": {"company_id": {"type": "integer", "minimum": 1}, "company": any_obj, "contact_id": {"type": "integer", "minimum": 1}, "contact": any_obj, "deal": any_obj, "create_deal": {"type": "boolean"}, "create_company": {"type": "boolean"}, "create_contact": {"type": "boolean"}}, "additionalProperties": false})),
        vec![("200", ok(json!({"type": "object", "properties": {"lead": sref("Lead"), "company": {}, "contact": {}, "deal": {}}, "required": ["lead"]}), "Converted"))])}));
    paths.insert("/api/v1/search".into(), json!({"get": op("Global search", "search", vec![qp("q", json!({"type": "string", "maxLength": 200}), "Name, INN, e-mail or phone in any format"), qp("limit", json!({"type": "integer", "minimum": 1, "maximum": 50}), "Hits per section")], None,
        vec![("200", ok(json!({"type": "object", "properties": {"data": {"type": "array", "items": {"type": "object", "properties": {"entity": {"type": "string"}, "id": {"type": "integer"}, "title": {"type": "string"}, "subtitle": {"type": ["string", "null"]}}, "required": ["entity", "id", "title"]}}}, "required": ["data"]}), "Hits"))])}));
    paths.insert("/api/v1/me".into(), json!({"get": op("The caller", "auth", vec![], None, vec![("200", ok(any_obj.clone(), "Profile"))])}));
    paths.insert("/api/v1/tokens".into(), json!({
        "get": op("My API tokens", "auth", vec![], None, vec![("200", ok(json!({"type": "object", "properties": {"data": {"type": "array"}}, "required": ["data"]}), "Tokens"))]),
        "post": op("Create an API token (shown once)", "auth", vec![], Some(json!({"type": "object", "properties": {"name": {"type": "string", "maxLength": 100}}})),
            vec![("201", ok(json!({"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "token": {"type": "string"}}, "required": ["id", "token"]}), "Created"))])}));
    paths.insert("/api/v1/tokens/{id}".into(), json!({"delete": op("Revoke a token", "auth", vec![id_param()], None, vec![("204", json!({"description": "Revoked"}))])}));
    super::notebook::openapi(&mut paths, &mut schemas);
    crate::api::automation::openapi(&mut paths, &mut schemas);
    crate::api::webhooks::openapi(&mut paths, &mut schemas);
    crate::api::imports::openapi_paths(&mut paths);
    crate::api::duplicates::openapi(&mut paths, &mut schemas);
    crate::api::quality::openapi(&mut paths);
    crate::api::bulk::openapi(&mut paths);
    crate::api::exports::openapi(&mut paths);
    crate::api::reports::openapi_paths(&mut paths, &mut schemas);
    crate::api::customer_classes::openapi_paths(&mut paths);
    crate::api::report_schedules::openapi_paths(&mut paths);
    crate::api::dashboard::openapi_paths(&mut paths);
    crate::api::report_sources::openapi_paths(&mut paths, &mut schemas);
    crate::api::approvals::openapi_paths(&mut paths);
    crate::api::calendar::openapi_paths(&mut paths);
    crate::api::reminders::openapi_paths(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Plotina CRM API", "version": env!("CARGO_PKG_VERSION"),
            "description": "Records, pipelines and activities. Lists take the filter language; errors are RFC 9457 problems in the caller's language (Accept-Language: ru, en)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "plotina token create --login LOGIN"}}},
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(|| async { Json(document()) }))
}
