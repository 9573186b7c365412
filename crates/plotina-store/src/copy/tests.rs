use std::cell::RefCell;
use std::io::Write as _;

use plotina_core::schema::Entity;
use serde_json::json;

use super::*;
use crate::testing::{self, TestDb};

const USER: i64 = 1000;

async fn open(db: &TestDb) -> Pool {
    Pool::connect(&db.config())
        .await
        .unwrap_or_else(|e| panic!("open {}: {e:#}", db.name()))
}

fn ts(s: &str) -> Value {
    DateTime::parse_from_rfc3339(s)
        .expect("timestamp")
        .with_timezone(&Utc)
        .into()
}

fn day(s: &str) -> Value {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .expect("date")
        .into()
}

fn js(v: JsonValue) -> Value {
    Value::Json(Some(Box::new(v)))
}

fn null_text() -> Value {
    Value::String(None)
}

fn null_int() -> Value {
    Value::BigInt(None)
}

type Cols = Vec<(&'static str, Value)>;

async fn put(tx: &mut Tx, table: &str, row: Cols) {
    let mut q = Query::insert();
    q.into_table(Alias::new(table))
        .columns(row.iter().map(|(c, _)| Alias::new(*c)));
    q.values_panic(row.into_iter().map(|(_, v)| SimpleExpr::Value(v)));
    tx.execute(&q)
        .await
        .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
}

async fn put_many(tx: &mut Tx, table: &str, cols: &[&str], rows: Vec<Vec<Value>>) {
    for chunk in rows.chunks(300) {
        let mut q = Query::insert();
        q.into_table(Alias::new(table))
            .columns(cols.iter().map(|c| Alias::new(*c)));
        for row in chunk {
            q.values_panic(row.iter().cloned().map(SimpleExpr::Value));
        }
        tx.execute(&q)
            .await
            .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
    }
}

/// The record columns with an id and fixed audit values, then `extra`.
fn rec(id: i64, extra: Cols) -> Cols {
    let mut row: Cols = vec![
        ("id", id.into()),
        ("created_at", ts("2024-01-15T08:30:00.123Z")),
        ("created_by", USER.into()),
        ("updated_at", ts("2024-02-29T23:59:59.999+03:00")),
        ("updated_by", null_int()),
        ("owner_id", USER.into()),
        ("version", 7i64.into()),
    ];
    row.extend(extra);
    row
}

async fn fill_organisation(tx: &mut Tx) {
    let perms =
        json!({"deal": {"read": "all", "edit": "own"}, "a": [1, 2.5, {"z": null, "b": true}]});
    let custom = json!({"nested": {"deep": {"ёж": "колючий", "n": [1, 2, {"k": "v"}]}}});
    put(
        tx,
        "roles",
        rec(
            1000,
            vec![
                ("name", "Аудитор «Север»".into()),
                ("code", null_text()),
                ("is_admin", true.into()),
                ("permissions", js(perms)),
                ("custom", js(custom)),
            ],
        ),
    )
    .await;
    put(
        tx,
        "departments",
        rec(
            1000,
            vec![
                ("name", "Отдел Ω".into()),
                ("head_id", USER.into()),
                ("tags", js(json!(["головной"]))),
            ],
        ),
    )
    .await;
    put(
        tx,
        "departments",
        rec(
            1001,
            vec![
                ("name", "Sub".into()),
                ("parent_id", 1000i64.into()),
                ("deleted_at", ts("2025-06-01T00:00:00Z")),
            ],
        ),
    )
    .await;
    put(
        tx,
        "users",
        rec(
            USER,
            vec![
                ("login", "ivanov".into()),
                ("name", "Иван Иванов".into()),
                ("role_id", 1000i64.into()),
                ("department_id", 1000i64.into()),
                ("active", false.into()),
                ("email", null_text()),
                ("password_hash", null_text()),
            ],
        ),
    )
    .await;
    put(
        tx,
        "pipelines",
        rec(
            1000,
            vec![
                ("name", "Опт".into()),
                ("department_id", 1000i64.into()),
                ("forbid_skip", true.into()),
                ("lost_reasons", js(json!(["Дорого", "Нет ответа"]))),
                ("active", false.into()),
            ],
        ),
    )
    .await;
    put(
        tx,
        "stages",
        rec(
            1000,
            vec![
                ("pipeline_id", 1000i64.into()),
                ("name", "Новая".into()),
                ("kind", "open".into()),
                ("probability", 10i64.into()),
            ],
        ),
    )
    .await;
    put(
        tx,
        "stages",
        rec(
            1001,
            vec![
                ("pipeline_id", 1000i64.into()),
                ("name", "Успех".into()),
                ("kind", "won".into()),
                ("probability", 100i64.into()),
                ("rotten_days", 30i64.into()),
            ],
        ),
    )
    .await;
    put(
        tx,
        "custom_fields",
        rec(
            1000,
            vec![
                ("entity", "company".into()),
                ("key", "segment".into()),
                ("label", "Сегмент".into()),
                ("kind", "select".into()),
                ("options", js(json!(["A", "Б"]))),
                ("required", true.into()),
                ("position", 3i64.into()),
            ],
        ),
    )
    .await;
}

async fn fill_customers(tx: &mut Tx) {
    let address = json!([{"kind": "legal", "value": "Москва, ул. Тверская, д. 1", "name": null}]);
    let custom = json!({"segment": "A", "nested": {"z": 1, "a": [{"y": 2, "x": 1}]}});
    put(
        tx,
        "companies",
        rec(
            1000,
            vec![
                ("name", "ООО «Ромашка»".into()),
                ("legal_name", "Общество \"Ромашка\"".into()),
                ("inn", "7707083893".into()),
                ("kpp", "770701001".into()),
                ("roles", js(json!(["customer", "partner"]))),
                ("addresses", js(address)),
                ("phones", js(json!(["+74951234567"]))),
                ("emails", js(json!(["info@romashka.ru"]))),
                ("private", true.into()),
                ("description", "Строка 1\nСтрока 2\t«таб» 🚀 \\N".into()),
                ("deleted_at", ts("2025-03-01T12:00:00.5Z")),
                ("custom", js(custom)),
                ("search_text", "ромашка".into()),
            ],
        ),
    )
    .await;
    put(
        tx,
        "companies",
        rec(
            1001,
            vec![("name", "Minimal".into()), ("owner_id", null_int())],
        ),
    )
    .await;
    put(
        tx,
        "contacts",
        rec(
            1000,
            vec![
                ("last_name", "Иванова".into()),
                ("first_name", "Мария".into()),
                ("full_name", "Иванова Мария".into()),
                (
                    "companies",
                    r#"[{"company_id":1000,"role":"Директор"}]"#.into(),
                ),
                ("birthday", day("1987-02-28")),
                (
                    "messengers",
                    js(json!({"telegram": "@maria", "max": "мария"})),
                ),
            ],
        ),
    )
    .await;
    put(tx, "contacts", rec(1001, vec![])).await;
    let payload = json!({"utm": {"source": "yandex", "n": 1.5, "big": 12_345_678_901_234_567_i64, "e": 1e2}, "list": [null, true, "ё"]});
    put(
        tx,
        "leads",
        rec(
            1000,
            vec![
                ("title", "Заявка с сайта".into()),
                ("amount", i64::MAX.into()),
                ("payload", js(payload)),
                ("company_id", 1000i64.into()),
                ("contact_id", 1000i64.into()),
                ("deal_id", 1000i64.into()),
                ("converted_at", ts("2025-03-02T10:11:12.013Z")),
            ],
        ),
    )
    .await;
    put(
        tx,
        "leads",
        rec(
            1001,
            vec![
                ("title", "Пусто".into()),
                ("amount", i64::MIN.into()),
                ("payload", js(json!(null))),
            ],
        ),
    )
    .await;
}

async fn fill_sales(tx: &mut Tx) {
    put(
        tx,
        "deals",
        rec(
            1000,
            vec![
                ("title", "Поставка".into()),
                ("pipeline_id", 1000i64.into()),
                ("stage_id", 1000i64.into()),
                ("amount", 123_456_789_012_345i64.into()),
                ("close_date", day("2025-12-31")),
                ("company_id", 1000i64.into()),
                ("contact_ids", js(json!([1000, 1001]))),
                ("lead_id", 1000i64.into()),
                ("planned_deadline", day("2024-02-29")),
                ("stage_changed_at", ts("2025-03-03T00:00:00.001Z")),
            ],
        ),
    )
    .await;
    put(
        tx,
        "deals",
        rec(
            1001,
            vec![
                ("title", "Дочерняя".into()),
                ("pipeline_id", 1000i64.into()),
                ("stage_id", 1001i64.into()),
                ("parent_id", 1000i64.into()),
                ("amount", (-150i64).into()),
                ("closed_at", ts("2025-04-01T09:00:00Z")),
            ],
        ),
    )
    .await;
    put(
        tx,
        "activities",
        rec(
            1000,
            vec![
                ("kind", "call".into()),
                ("due_at", ts("2025-03-01T09:15:30.123Z")),
                ("done", true.into()),
                ("done_at", ts("2025-03-01T09:20:00.007Z")),
                ("duration_min", 15i64.into()),
                ("participant_ids", js(json!([1000]))),
                ("deal_id", 1000i64.into()),
                ("company_id", 1000i64.into()),
                ("assignee_id", USER.into()),
                ("direction", "incoming".into()),
            ],
        ),
    )
    .await;
    put(
        tx,
        "activities",
        rec(
            1001,
            vec![
                ("kind", "task".into()),
                ("parent_id", 1000i64.into()),
                ("body", "Перезвонить\r\nзавтра".into()),
            ],
        ),
    )
    .await;
    let change = |id: i64, from: Value, to: i64, seconds: Value| -> Cols {
        vec![
            ("id", id.into()),
            ("deal_id", 1000i64.into()),
            ("pipeline_id", 1000i64.into()),
            ("from_stage_id", from),
            ("to_stage_id", to.into()),
            ("changed_at", ts("2025-03-03T00:00:00.001Z")),
            ("changed_by", USER.into()),
            ("seconds_in_previous", seconds),
        ]
    };
    put(
        tx,
        "stage_changes",
        change(1000, null_int(), 1000, null_int()),
    )
    .await;
    put(
        tx,
        "stage_changes",
        change(1001, 1000i64.into(), 1001, 86_400i64.into()),
    )
    .await;
}

async fn fill_auxiliary(tx: &mut Tx) {
    // Text written by hand in other formats than the application's: still one instant.
    put(
        tx,
        "api_tokens",
        vec![
            ("id", 1000i64.into()),
            ("user_id", USER.into()),
            ("name", "1С".into()),
            ("token_hash", "a1b2".into()),
            ("created_at", ts("2025-01-01T00:00:00Z")),
            ("last_used_at", "2025-05-05 10:00:00.5".into()),
        ],
    )
    .await;
    let session = |hash: &str, created: Value| -> Cols {
        vec![
            ("id_hash", hash.into()),
            ("user_id", USER.into()),
            ("csrf_token", "csrf".into()),
            ("created_at", created),
            ("expires_at", ts("2030-01-01T00:00:00.000Z")),
        ]
    };
    put(
        tx,
        "sessions",
        session("b7f0", "2025-01-01T03:00:00.250+03:00".into()),
    )
    .await;
    put(
        tx,
        "sessions",
        session("A1", ts("2025-01-01T00:00:00.250Z")),
    )
    .await;
    for key in ["ключ-1", "Key-2", "key-2"] {
        put(
            tx,
            "idempotency_keys",
            vec![
                ("user_id", USER.into()),
                ("key", key.into()),
                ("request_hash", "h".into()),
                ("entity", "company".into()),
                ("record_id", 1000i64.into()),
                ("created_at", ts("2025-01-01T00:00:00Z")),
            ],
        )
        .await;
    }
    for (id, deleted) in [
        (1000i64, Value::ChronoDateTimeUtc(None)),
        (1001, ts("2025-02-02T02:02:02.202Z")),
    ] {
        put(
            tx,
            "attachments",
            vec![
                ("id", id.into()),
                ("entity", "deal".into()),
                ("record_id", 1000i64.into()),
                ("file_name", "Договор №1.pdf".into()),
                ("content_type", "application/pdf".into()),
                ("size", 5_000_000_000i64.into()),
                ("sha256", "00ff".into()),
                ("created_at", ts("2025-01-01T00:00:00Z")),
                ("created_by", USER.into()),
                ("deleted_at", deleted),
            ],
        )
        .await;
    }
}

async fn fill_views(tx: &mut Tx) {
    for (id, shared, filter) in [
        (1000i64, true, r#"stage = "won" and amount >= 100000"#),
        (1001, false, ""),
    ] {
        put(
            tx,
            "saved_views",
            vec![
                ("id", id.into()),
                ("entity", "deal".into()),
                ("name", "Крупные сделки".into()),
                ("filter", filter.into()),
                ("sort", "-amount".into()),
                ("columns", "title,amount".into()),
                ("owner_id", USER.into()),
                ("shared", shared.into()),
                ("created_at", ts("2025-01-01T00:00:00.001Z")),
                ("updated_at", ts("2025-01-02T00:00:00Z")),
            ],
        )
        .await;
    }
}

async fn fill_notebook(tx: &mut Tx) {
    for (id, state, payload) in [
        (
            2000i64,
            "open",
            Some(serde_json::json!({"discount": "12.5"})),
        ),
        (2001, "done", None),
    ] {
        put(
            tx,
            "notebook_items",
            vec![
                ("id", id.into()),
                ("kind", "approval_requested".into()),
                ("owner_id", USER.into()),
                ("entity", "deal".into()),
                ("record_id", 1i64.into()),
                ("text", "Скидка «ниже пола»".into()),
                ("due_at", ts("2025-01-03T09:30:00.250Z")),
                ("state", state.into()),
                ("snoozed_until", Value::ChronoDateTimeUtc(None)),
                ("source", "rule:7".into()),
                ("dedupe_key", format!("approval:{id}").into()),
                ("payload", payload.map(js).unwrap_or(Value::Json(None))),
                ("created_at", ts("2025-01-02T00:00:00Z")),
                ("created_by", USER.into()),
                ("closed_at", Value::ChronoDateTimeUtc(None)),
                ("closed_by", Value::BigInt(None)),
            ],
        )
        .await;
    }
}

async fn fill_gates(tx: &mut Tx) {
    put(
        tx,
        "notebook_gates",
        vec![
            ("id", 4000i64.into()),
            ("name", "Сначала блокнот".into()),
            ("action", "deal_move".into()),
            ("kinds", js(serde_json::json!(["task_due", "deal_stale"]))),
            ("older_than_hours", 24i64.into()),
            ("max_overdue_tasks", Value::BigInt(None)),
            ("exempt_role_ids", js(serde_json::json!([1]))),
            ("active", true.into()),
            ("created_at", ts("2025-01-02T00:00:00Z")),
            ("created_by", USER.into()),
            ("updated_at", ts("2025-01-02T00:00:00.5Z")),
        ],
    )
    .await;
    put(
        tx,
        "notebook_gate_blocks",
        vec![
            ("id", 4100i64.into()),
            ("gate_id", 4000i64.into()),
            ("gate_name", "Сначала блокнот".into()),
            ("user_id", USER.into()),
            ("action", "deal_move".into()),
            ("entity", "deal".into()),
            ("record_id", 1i64.into()),
            ("item_count", 3i64.into()),
            ("blocked_at", ts("2025-01-03T10:00:00.125Z")),
        ],
    )
    .await;
}

async fn fill_mail(tx: &mut Tx) {
    put(
        tx,
        "mail_outbox",
        vec![
            ("id", 3000i64.into()),
            ("to_addr", "anna@example.ru".into()),
            ("subject", "Напоминание: звонок в 10:00".into()),
            ("body_text", "Позвонить ООО «Ромашка»".into()),
            (
                "attachments",
                js(serde_json::json!([{"name": "report.xlsx", "content_type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "base64": "UEsDBA=="}])),
            ),
            ("source", "reminder".into()),
            ("dedupe_key", "reminder:1:2025-01-03T09:00:00Z".into()),
            ("state", "sent".into()),
            ("attempts", 1i64.into()),
            ("next_attempt_at", ts("2025-01-03T09:00:00Z")),
            ("last_error", null_text()),
            ("created_at", ts("2025-01-03T08:59:00Z")),
            ("sent_at", ts("2025-01-03T09:00:01.5Z")),
        ],
    )
    .await;
}

async fn fill_automation(tx: &mut Tx) {
    put(
        tx,
        "automation_rules",
        vec![
            ("id", 40i64.into()),
            ("name", "Оценка логистики".into()),
            ("entity", "deal".into()),
            ("pipeline_id", Value::BigInt(None)),
            (
                "trigger_spec",
                js(serde_json::json!({"type": "stage_entered", "stage_id": 2})),
            ),
            ("condition", "amount >= 1000".into()),
            (
                "actions",
                js(serde_json::json!([{"type": "add_tag", "tag": "оценка"}])),
            ),
            ("enabled", true.into()),
            ("webhook_token", "0a1b2c".into()),
            ("state", js(serde_json::json!({"rr0": 7}))),
            ("scheduled_until", ts("2025-01-03T10:00:00Z")),
            ("created_at", ts("2025-01-02T00:00:00Z")),
            ("created_by", USER.into()),
            ("updated_at", ts("2025-01-02T00:00:00.125Z")),
            ("version", 2i64.into()),
        ],
    )
    .await;
    put(
        tx,
        "automation_runs",
        vec![
            ("id", 41i64.into()),
            ("rule_id", 40i64.into()),
            ("entity", "deal".into()),
            ("record_id", 1i64.into()),
            ("trigger_code", "stage_entered".into()),
            ("status", "failed".into()),
            ("depth", 1i64.into()),
            ("actions", js(serde_json::json!([]))),
            ("error", "stage_id: link_not_found".into()),
            ("started_at", ts("2025-01-03T09:00:00Z")),
            ("finished_at", ts("2025-01-03T09:00:00.5Z")),
        ],
    )
    .await;
    put(
        tx,
        "automation_jobs",
        vec![
            ("id", 42i64.into()),
            ("rule_id", 40i64.into()),
            ("entity", "deal".into()),
            ("record_id", 1i64.into()),
            ("action_index", 1i64.into()),
            ("payload", js(serde_json::json!({"order": 5}))),
            ("trigger_code", "retry".into()),
            ("depth", 0i64.into()),
            ("attempts", 2i64.into()),
            ("state", "queued".into()),
            ("next_attempt_at", ts("2025-01-03T09:04:00Z")),
            ("last_error", "HTTP 500".into()),
            ("created_at", ts("2025-01-03T09:00:00Z")),
        ],
    )
    .await;
    put(
        tx,
        "automation_fired",
        vec![
            ("id", 43i64.into()),
            ("rule_id", 40i64.into()),
            ("record_id", 1i64.into()),
            ("fire_key", "2025-01-03T09:00:00.000Z".into()),
            ("fired_at", ts("2025-01-03T09:00:01Z")),
        ],
    )
    .await;
    put(
        tx,
        "webhook_subscriptions",
        vec![
            ("id", 44i64.into()),
            ("url", "https://erp.example.ru/hooks/plotina".into()),
            ("events", js(serde_json::json!(["deal.stage_changed"]))),
            ("entity", "deal".into()),
            ("secret", "9f8e7d".into()),
            ("enabled", false.into()),
            ("max_failures", 5i64.into()),
            ("consecutive_failures", 5i64.into()),
            ("disabled_at", ts("2025-01-03T10:00:00Z")),
            ("created_at", ts("2025-01-02T00:00:00Z")),
            ("created_by", USER.into()),
            ("updated_at", ts("2025-01-03T10:00:00Z")),
        ],
    )
    .await;
    put(
        tx,
        "webhook_deliveries",
        vec![
            ("id", 45i64.into()),
            ("subscription_id", 44i64.into()),
            ("event", "deal.stage_changed".into()),
            (
                "payload",
                js(serde_json::json!({"event": "deal.stage_changed", "record_id": 1})),
            ),
            ("state", "failed".into()),
            ("attempts", 5i64.into()),
            ("next_attempt_at", ts("2025-01-03T09:30:00Z")),
            ("last_status", 503i64.into()),
            ("last_error", "HTTP 503".into()),
            ("created_at", ts("2025-01-03T09:00:00Z")),
            ("delivered_at", Value::ChronoDateTimeUtc(None)),
        ],
    )
    .await;
}

async fn fill_transfer(tx: &mut Tx) {
    put(
        tx,
        "import_batches",
        vec![
            ("id", 4000i64.into()),
            ("entity", "company".into()),
            ("file_name", "клиенты.csv".into()),
            ("format", "csv".into()),
            ("status", "done".into()),
            ("dry_run", false.into()),
            ("on_duplicate", "update".into()),
            (
                "mapping",
                js(serde_json::json!([{"header": "ИНН", "target": "inn"}])),
            ),
            ("rows_total", 3i64.into()),
            ("rows_created", 1i64.into()),
            ("rows_updated", 1i64.into()),
            ("rows_skipped", 0i64.into()),
            ("rows_rejected", 1i64.into()),
            ("error", null_text()),
            ("created_by", USER.into()),
            ("created_at", ts("2025-01-04T10:00:00Z")),
            ("finished_at", ts("2025-01-04T10:00:01.125Z")),
            ("undone_at", Value::ChronoDateTimeUtc(None)),
            ("undone_by", Value::BigInt(None)),
        ],
    )
    .await;
    put(
        tx,
        "import_items",
        vec![
            ("id", 4001i64.into()),
            ("batch_id", 4000i64.into()),
            ("row_no", 2i64.into()),
            ("record_id", 1i64.into()),
            ("action", "updated".into()),
            ("version", 2i64.into()),
            ("before", js(serde_json::json!({"industry": "Розница"}))),
        ],
    )
    .await;
    put(
        tx,
        "import_rejects",
        vec![
            ("id", 4002i64.into()),
            ("batch_id", 4000i64.into()),
            ("row_no", 4i64.into()),
            ("cells", js(serde_json::json!(["Ромашка", "123"]))),
            (
                "problems",
                js(serde_json::json!([{"row": 4, "field": "inn", "code": "inn_length"}])),
            ),
        ],
    )
    .await;
    put(
        tx,
        "import_mappings",
        vec![
            ("id", 4003i64.into()),
            ("entity", "contact".into()),
            ("name", "Выгрузка 1С".into()),
            (
                "columns",
                js(serde_json::json!([{"header": "ФИО", "target": "full_name"}])),
            ),
            ("created_by", USER.into()),
            ("created_at", ts("2025-01-04T09:00:00Z")),
        ],
    )
    .await;
    put(
        tx,
        "app_settings",
        vec![
            ("key", "rating_weights".into()),
            ("value", r#"{"calls":10,"won_amount":90}"#.into()),
            ("updated_at", ts("2025-01-04T10:30:00Z")),
            ("updated_by", USER.into()),
        ],
    )
    .await;
    put(
        tx,
        "sales_plans",
        vec![
            ("id", 4010i64.into()),
            ("month", "2025-02".into()),
            ("target", "user:1".into()),
            ("amount", 15_000_000i64.into()),
            ("updated_at", ts("2025-01-04T10:00:00Z")),
            ("updated_by", USER.into()),
        ],
    )
    .await;
    put(
        tx,
        "report_schedules",
        vec![
            ("id", 4011i64.into()),
            ("report", "funnel".into()),
            ("params", "period_from=2025-01-01&pipeline=1".into()),
            ("frequency", "weekly".into()),
            ("day", 1i64.into()),
            ("hour", 8i64.into()),
            ("time_zone", "Europe/Moscow".into()),
            ("enabled", true.into()),
            ("next_due", ts("2025-01-06T05:00:00Z")),
            ("last_sent_at", ts("2024-12-30T05:00:00Z")),
            ("created_by", USER.into()),
            ("created_at", ts("2025-01-04T10:00:00Z")),
            ("updated_at", ts("2025-01-04T10:00:00Z")),
        ],
    )
    .await;
    put(
        tx,
        "source_costs",
        vec![
            ("id", 4011i64.into()),
            ("source", "Яндекс.Директ".into()),
            ("month", day("2025-02-01")),
            ("amount", 4_500_000i64.into()),
            ("updated_at", ts("2025-01-04T10:05:00Z")),
            ("updated_by", USER.into()),
        ],
    )
    .await;
    put(
        tx,
        "report_schedule_recipients",
        vec![("schedule_id", 4011i64.into()), ("user_id", USER.into())],
    )
    .await;
    put(
        tx,
        "export_log",
        vec![
            ("id", 4004i64.into()),
            ("user_id", USER.into()),
            ("entity", "deal".into()),
            ("filter", "amount >= 100000".into()),
            ("format", "xlsx".into()),
            ("rows", 42i64.into()),
            ("q", "Ромашка".into()),
            ("columns", r#"["title","amount"]"#.into()),
            ("source", "web".into()),
            ("created_at", ts("2025-01-04T11:00:00.5Z")),
        ],
    )
    .await;
}

async fn fill_dedup_keys(tx: &mut Tx) {
    for (entity, kind, value) in [
        ("company", "company_name", "ромашка"),
        ("contact", "person_name", "анна петрова"),
    ] {
        put(
            tx,
            "dedup_keys",
            vec![
                ("entity", entity.into()),
                ("record_id", 1i64.into()),
                ("kind", kind.into()),
                ("value", value.into()),
            ],
        )
        .await;
    }
}

async fn fill_merges(tx: &mut Tx) {
    put(
        tx,
        "merges",
        vec![
            ("id", 4000i64.into()),
            ("entity", "company".into()),
            ("survivor_id", 1i64.into()),
            ("victim_ids", js(serde_json::json!([2]))),
            (
                "snapshot",
                js(serde_json::json!([{"entity": "company", "record": {"id": 2, "name": "Ромашка «старая»"}}])),
            ),
            ("after_versions", js(serde_json::json!({"company:1": 3}))),
            ("moved", js(serde_json::json!({"attachments": [], "notebook_items": []}))),
            ("created_at", ts("2025-01-04T10:00:00.5Z")),
            ("created_by", USER.into()),
            ("undone_at", Value::ChronoDateTimeUtc(None)),
            ("undone_by", Value::BigInt(None)),
        ],
    )
    .await;
}

async fn fill_approvals(tx: &mut Tx) {
    put(
        tx,
        "approvals",
        vec![
            ("id", 4000i64.into()),
            ("entity", "deal".into()),
            ("record_id", 1i64.into()),
            ("field", "discount_pct".into()),
            ("requested_value", js(serde_json::json!(25))),
            ("previous_value", js(serde_json::json!(5))),
            ("reason", "Оптовый клиент, «особые» условия".into()),
            ("requester_id", USER.into()),
            ("approver_id", USER.into()),
            ("department_id", Value::BigInt(None)),
            ("level", 1i64.into()),
            ("state", "approved".into()),
            ("comment", "Согласовано".into()),
            ("decided_by", USER.into()),
            ("decided_at", ts("2025-01-04T10:00:00.125Z")),
            ("escalate_at", Value::ChronoDateTimeUtc(None)),
            ("created_at", ts("2025-01-03T10:00:00Z")),
            ("updated_at", ts("2025-01-04T10:00:00.125Z")),
        ],
    )
    .await;
    put(
        tx,
        "calendar_feeds",
        vec![
            ("user_id", USER.into()),
            ("token_hash", "ab".repeat(32).into()),
            ("created_at", ts("2025-01-05T08:00:00Z")),
        ],
    )
    .await;
    put(
        tx,
        "customer_class_runs",
        vec![
            ("id", 4020i64.into()),
            ("calculated_at", ts("2025-02-01T03:00:00Z")),
            ("period_key", "2025-02".into()),
            ("window_from", day("2024-02-01")),
            ("window_to", day("2025-01-31")),
            (
                "thresholds",
                js(json!({"thresholds": {"a": 70.0, "b": 20.0}, "months": 12})),
            ),
            ("customers", 1i64.into()),
            ("changed", 1i64.into()),
            ("source", "schedule".into()),
            ("created_by", null_int()),
        ],
    )
    .await;
    put(
        tx,
        "customer_classes",
        vec![
            ("company_id", 1000i64.into()),
            ("run_id", 4020i64.into()),
            ("abc", "B".into()),
            ("xyz", "Y".into()),
            ("revenue", 1_500_000i64.into()),
            ("deals", 3i64.into()),
            ("share_e4", 2143i64.into()),
            ("cv_e4", 1875i64.into()),
            ("calculated_at", ts("2025-02-01T03:00:00Z")),
            ("override_abc", "A".into()),
            ("override_xyz", null_text()),
            ("override_reason", "Стратегический клиент".into()),
            ("override_by", USER.into()),
            ("override_at", ts("2025-02-02T09:15:00.25Z")),
        ],
    )
    .await;
    put(
        tx,
        "customer_class_changes",
        vec![
            ("id", 4021i64.into()),
            ("company_id", 1000i64.into()),
            ("kind", "calculation".into()),
            ("run_id", 4020i64.into()),
            ("old_abc", null_text()),
            ("old_xyz", null_text()),
            ("new_abc", "B".into()),
            ("new_xyz", "Y".into()),
            ("reason", null_text()),
            ("changed_at", ts("2025-02-01T03:00:00Z")),
            ("changed_by", null_int()),
        ],
    )
    .await;
}

/// More rows than one batch, and a run of equal keyless rows across batch borders.
async fn fill_bulk(tx: &mut Tx) {
    let lookup = |record: i64, value: &str| -> Vec<Value> {
        vec![
            "company".into(),
            record.into(),
            "tags".into(),
            "tag".into(),
            value.into(),
        ]
    };
    let mut rows: Vec<Vec<Value>> = ["Яблоко", "apple", "Apple", "ёлка", "Zeta", "zeta", "ÄÖ"]
        .iter()
        .map(|v| lookup(1000, v))
        .collect();
    rows.extend((0..2_500).map(|_| lookup(1001, "дубль")));
    rows.extend((0..10).map(|_| lookup(1000, "Zeta")));
    put_many(
        tx,
        "record_lookup",
        &["entity", "record_id", "field", "kind", "value"],
        rows,
    )
    .await;
    let base = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
        .expect("base")
        .with_timezone(&Utc);
    let history = (0..4_100i64)
        .map(|i| {
            let old = match i % 3 {
                0 => Value::Json(None),
                1 => js(JsonValue::Null),
                _ => js(json!({"b": i, "a": "старое"})),
            };
            let by = if i % 2 == 0 { USER.into() } else { null_int() };
            let at = base + chrono::Duration::milliseconds(i * 37);
            vec![
                "company".into(),
                1000i64.into(),
                "update".into(),
                "name".into(),
                old,
                js(json!([i, "новое"])),
                at.into(),
                by,
            ]
        })
        .collect();
    let cols = [
        "entity",
        "record_id",
        "action",
        "field",
        "old_value",
        "new_value",
        "changed_at",
        "changed_by",
    ];
    put_many(tx, "history", &cols, history).await;
}

/// Rows in every table, in one transaction with foreign keys checked at its end.
async fn fill(pool: &Pool) {
    let mut tx = begin_load(pool).await.expect("begin");
    fill_organisation(&mut tx).await;
    fill_customers(&mut tx).await;
    fill_sales(&mut tx).await;
    fill_auxiliary(&mut tx).await;
    fill_views(&mut tx).await;
    fill_notebook(&mut tx).await;
    fill_mail(&mut tx).await;
    fill_gates(&mut tx).await;
    fill_automation(&mut tx).await;
    fill_transfer(&mut tx).await;
    fill_dedup_keys(&mut tx).await;
    fill_merges(&mut tx).await;
    fill_approvals(&mut tx).await;
    fill_bulk(&mut tx).await;
    tx.commit().await.expect("commit the fixture");
}

/// A SQLite database with the application's seed data plus [`fill`].
async fn source() -> (TestDb, Pool) {
    let db = testing::sqlite().await;
    let (store, _) = testing::seeded_store(&db).await;
    store.pool().close().await;
    let pool = open(&db).await;
    fill(&pool).await;
    (db, pool)
}

async fn copy_ok(from: &Pool, to: &Pool) -> CopyReport {
    let seen = RefCell::new(Vec::new());
    let report = copy_database(from, to, &|p| seen.borrow_mut().push(p))
        .await
        .expect("copy");
    assert!(
        report.ok(),
        "copy {:?} → {:?} does not verify: {report:#?}",
        from.backend(),
        to.backend()
    );
    for t in &report.tables {
        let last = seen
            .borrow()
            .iter()
            .rev()
            .find(|p| p.table == t.table)
            .copied();
        let last = last.unwrap_or_else(|| panic!("no progress for {}", t.table));
        assert_eq!(
            (last.done, last.total),
            (t.rows_copied, t.source_rows),
            "progress of {}",
            t.table
        );
    }
    report
}

async fn max_id(pool: &Pool, table: &str) -> i64 {
    let mut tx = pool.begin().await.expect("begin");
    let rows = tx
        .fetch_all_sql(&format!("SELECT MAX(id) AS m FROM {table}"), no_values())
        .await
        .expect("max id");
    tx.commit().await.expect("commit");
    rows[0].i64("m").expect("decode").unwrap_or(0)
}

/// New rows without an id get the next one: PostgreSQL's sequences were moved past
/// the copied ids, SQLite's `sqlite_sequence` followed them.
async fn assert_next_id(pool: &Pool) {
    for spec in TABLES.iter().filter(|t| t.key == Key::Id) {
        let max = max_id(pool, spec.name).await;
        let sql = match pool.backend() {
            Backend::Postgres => format!(
                "SELECT nextval(pg_get_serial_sequence('{}', 'id')) - 1 AS n",
                spec.name
            ),
            Backend::Sqlite => format!(
                "SELECT seq AS n FROM sqlite_sequence WHERE name = '{}'",
                spec.name
            ),
        };
        let mut tx = pool.begin_write().await.expect("begin");
        let rows = tx
            .fetch_all_sql(&sql, no_values())
            .await
            .expect("read the sequence");
        let seq = rows.first().and_then(|r| r.i64("n").expect("decode"));
        assert_eq!(
            seq,
            Some(max),
            "{} sequence after the copy on {:?}",
            spec.name,
            pool.backend()
        );
        if spec.name == "history" {
            let mut q = Query::insert();
            q.into_table(Alias::new("history"))
                .columns(["entity", "record_id", "action", "changed_at"].map(Alias::new))
                .values_panic(crate::db::vals([
                    "company".into(),
                    1i64.into(),
                    "create".into(),
                    ts("2026-01-01T00:00:00Z"),
                ]));
            let id = tx.insert_id(&mut q).await.expect("insert without an id");
            assert!(
                id > max,
                "new history id {id} collides on {:?}",
                pool.backend()
            );
        }
        drop(tx); // rolled back: the database stays as copied
    }
}

fn assert_every_table_filled(sums: &[TableChecksum]) {
    for s in sums {
        assert!(s.rows > 0, "the fixture leaves {} empty", s.table);
    }
}

#[tokio::test]
async fn copy_sqlite_to_sqlite_keeps_every_row() {
    let (_a, a) = source().await;
    let b_db = testing::sqlite().await;
    let b = open(&b_db).await;
    let report = copy_ok(&a, &b).await;
    let sums = checksums(&a).await.expect("checksums of a");
    assert_every_table_filled(&sums);
    assert_eq!(sums, checksums(&b).await.expect("checksums of b"));
    let lookup = report
        .tables
        .iter()
        .find(|t| t.table == "record_lookup")
        .expect("record_lookup");
    assert_eq!(lookup.rows_copied, 2_517);
    assert_next_id(&b).await;
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn copy_round_trip_sqlite_postgres_sqlite() {
    let Some(pg_db) = testing::postgres().await else {
        // Straight to stderr: the harness captures `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "copy_round_trip_sqlite_postgres_sqlite: PostgreSQL part skipped, {} is not set",
            testing::PG_URL_VAR
        );
        return;
    };
    let (_a, a) = source().await;
    let p = open(&pg_db).await;
    let c_db = testing::sqlite().await;
    let c = open(&c_db).await;
    let there = copy_ok(&a, &p).await;
    let back = copy_ok(&p, &c).await;
    let sums = checksums(&a).await.expect("checksums of a");
    assert_every_table_filled(&sums);
    assert_eq!(
        sums,
        checksums(&p).await.expect("checksums of p"),
        "SQLite → PostgreSQL"
    );
    assert_eq!(
        sums,
        checksums(&c).await.expect("checksums of c"),
        "PostgreSQL → SQLite"
    );
    for (t, b) in there.tables.iter().zip(&back.tables) {
        assert_eq!(t.source_checksum, b.source_checksum, "{}", t.table);
    }
    assert_native_postgres_values(&p).await;
    assert_next_id(&p).await;
    assert_next_id(&c).await;
    for pool in [a, p, c] {
        pool.close().await;
    }
}

/// On PostgreSQL the copied values are native ones, not text.
async fn assert_native_postgres_values(p: &Pool) {
    let mut tx = p.begin().await.expect("begin");
    let sql = "SELECT jsonb_typeof(c.custom -> 'nested') AS kind, l.amount AS amount, s.created_at AS at, \
               d.close_date AS day, c.private AS private \
               FROM companies c, leads l, sessions s, deals d \
               WHERE c.id = 1000 AND l.id = 1001 AND s.id_hash = 'b7f0' AND d.id = 1000";
    let rows = tx
        .fetch_all_sql(sql, no_values())
        .await
        .expect("read PostgreSQL values");
    let r = &rows[0];
    assert_eq!(r.text("kind").expect("kind").as_deref(), Some("object"));
    assert_eq!(r.i64("amount").expect("amount"), Some(i64::MIN));
    let at = r.datetime("at").expect("at").expect("a timestamp");
    assert_eq!(canonical_time(at), "2025-01-01T00:00:00.250Z");
    assert_eq!(
        r.date("day").expect("day"),
        NaiveDate::from_ymd_opt(2025, 12, 31)
    );
    assert!(r.bool("private").expect("private"));
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn copy_refuses_a_non_empty_target() {
    let src_db = testing::sqlite().await;
    let src = open(&src_db).await;
    src.migrate().await.expect("migrate");
    fill(&src).await;
    for target_db in testing::all().await {
        let target = open(&target_db).await;
        target.migrate().await.expect("migrate");
        let mut tx = begin_load(&target).await.expect("begin");
        fill_organisation(&mut tx).await;
        tx.commit().await.expect("commit");
        let before = checksums(&target).await.expect("checksums");
        let err = copy_database(&src, &target, &|_| {})
            .await
            .expect_err("a non-empty target must be refused");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("not empty") && msg.contains("users"),
            "{}: {msg}",
            target_db.name()
        );
        assert_eq!(
            before,
            checksums(&target).await.expect("checksums"),
            "{} was changed",
            target_db.name()
        );
        target.close().await;
    }
    src.close().await;
}

#[tokio::test]
async fn copy_knows_every_table_and_column_of_the_migrations() {
    for db in testing::all().await {
        let pool = open(&db).await;
        pool.migrate().await.expect("migrate");
        let diffs = schema_differences(&pool).await.expect("read schema");
        assert!(
            diffs.is_empty(),
            "copy.rs is out of date with the {} migrations:\n{}",
            db.name(),
            diffs.join("\n")
        );
        pool.close().await;
    }
    for e in Entity::ALL {
        assert!(
            table_spec(e.table()).is_some(),
            "{} is not copied",
            e.table()
        );
    }
    for spec in TABLES {
        let cols: Vec<_> = spec.columns().collect();
        for i in spec.order_positions() {
            assert!(
                matches!(cols[i].1, Int | Text),
                "{}.{} cannot order a keyset",
                spec.name,
                cols[i].0
            );
        }
    }
}

#[tokio::test]
async fn schema_check_catches_unknown_tables_and_columns() {
    let db = testing::sqlite().await;
    let pool = open(&db).await;
    pool.migrate().await.expect("migrate");
    let mut tx = pool.begin_write().await.expect("begin");
    tx.raw("ALTER TABLE companies ADD COLUMN fax TEXT")
        .await
        .expect("alter");
    tx.raw("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        .await
        .expect("create");
    tx.commit().await.expect("commit");
    let diffs = schema_differences(&pool)
        .await
        .expect("read schema")
        .join("\n");
    assert!(
        diffs.contains("companies.fax") && diffs.contains("table invoices"),
        "{diffs}"
    );
    let target_db = testing::sqlite().await;
    let target = open(&target_db).await;
    let err = copy_database(&pool, &target, &|_| {})
        .await
        .expect_err("unknown schema refused");
    assert!(format!("{err:#}").contains("source"), "{err:#}");
    pool.close().await;
    target.close().await;
}

fn canonical(cell: Cell) -> String {
    let mut out = String::new();
    cell.write_canonical(&mut out);
    out
}

#[test]
fn canonical_forms_do_not_depend_on_the_engine() {
    let sqlite_json = json!({"b": 1, "a": {"d": [1.0, 1e2, 2.5], "c": null}});
    let jsonb_json: JsonValue =
        serde_json::from_str(r#"{"a": {"c": null, "d": [1.0, 100, 2.5]}, "b": 1}"#).expect("json");
    assert_eq!(
        canonical(Cell::Json(Some(sqlite_json.clone()))),
        r#"{"a":{"c":null,"d":[1,100,2.5]},"b":1}"#
    );
    assert_eq!(
        canonical(Cell::Json(Some(sqlite_json))),
        canonical(Cell::Json(Some(jsonb_json)))
    );
    let t = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    };
    assert_eq!(
        canonical(Cell::Time(Some(t("2025-01-01T03:00:00.25+03:00")))),
        "2025-01-01T00:00:00.250Z"
    );
    assert_eq!(
        canonical(Cell::Time(Some(t("2025-01-01T00:00:00Z")))),
        "2025-01-01T00:00:00.000Z"
    );
    assert_eq!(
        canonical(Cell::Time(Some(t("2025-01-01T00:00:00.000001Z")))),
        "2025-01-01T00:00:00.000001Z"
    );
    assert_ne!(
        canonical(Cell::Json(None)),
        canonical(Cell::Json(Some(JsonValue::Null)))
    );
    assert_ne!(
        canonical(Cell::Text(None)),
        canonical(Cell::Text(Some(NULL_MARK.into())))
    );
    assert_eq!(canonical(Cell::Text(Some("а\tб".into()))), r#""а\tб""#);
    assert_eq!(canonical(Cell::Bool(Some(false))), "false");
    assert_eq!(canonical(Cell::Int(Some(i64::MIN))), "-9223372036854775808");
}

/// The issue's own check: the demo data set goes SQLite → PostgreSQL → SQLite with the
/// same rows and checksums at every step.
#[tokio::test]
async fn demo_data_round_trips_through_postgresql() {
    let Some(pg) = testing::postgres().await else {
        return;
    };
    let db = testing::sqlite().await;
    let store = crate::Store::open(&db.config()).await.expect("open");
    crate::demo::generate(
        &store,
        crate::demo::DemoSize::Small,
        7,
        "demo-password",
        &|_| {},
    )
    .await
    .expect("demo data");
    let src = store.pool().clone();
    let mid = open(&pg).await;
    let back_db = testing::sqlite().await;
    let back = open(&back_db).await;
    copy_ok(&src, &mid).await;
    copy_ok(&mid, &back).await;
    let a = checksums(&src).await.expect("source checksums");
    let b = checksums(&mid).await.expect("postgres checksums");
    let c = checksums(&back).await.expect("round-trip checksums");
    assert_eq!(a, b, "SQLite → PostgreSQL changed the data");
    assert_eq!(a, c, "the round trip changed the data");
    assert!(
        a.iter().any(|t| t.table == "deals" && t.rows >= 9_000),
        "demo deals present: {a:?}"
    );
}
