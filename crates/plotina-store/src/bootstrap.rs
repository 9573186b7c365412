//! What a new installation starts with: the seeded roles, a default sales pipeline and
//! the first administrator.

use plotina_core::policy::{seeded_roles, Actor};
use plotina_core::schema::Entity;
use sea_query::{Alias, Query};
use serde_json::json;

use crate::db::Pool;
use crate::error::Result;
use crate::filter_sql::col;
use crate::store::Store;

async fn count(pool: &Pool, table: &str) -> Result<i64> {
    let mut tx = pool.begin().await?;
    let row = tx
        .fetch_optional(
            &Query::select()
                .expr_as(sea_query::Expr::cust("COUNT(*)"), Alias::new("n"))
                .from(Alias::new(table))
                .to_owned(),
        )
        .await?;
    tx.commit().await?;
    Ok(row.and_then(|r| r.i64("n").ok().flatten()).unwrap_or(0))
}

/// Seeds roles if there are none. Safe to call at every start.
pub async fn seed_roles(pool: &Pool) -> Result<()> {
    if count(pool, "roles").await? > 0 {
        return Ok(());
    }
    let now = plotina_core::value::now();
    let mut tx = pool.begin_write().await?;
    for (code, name, is_admin, perms) in seeded_roles() {
        tx.execute(
            Query::insert()
                .into_table(Alias::new("roles"))
                .columns(
                    [
                        "created_at",
                        "updated_at",
                        "name",
                        "code",
                        "is_admin",
                        "permissions",
                    ]
                    .map(Alias::new),
                )
                .values_panic(crate::db::vals([
                    now.into(),
                    now.into(),
                    name.into(),
                    code.into(),
                    is_admin.into(),
                    sea_query::Value::Json(Some(Box::new(
                        serde_json::to_value(perms).unwrap_or_default(),
                    ))),
                ])),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn role_id(pool: &Pool, code: &str) -> Result<Option<i64>> {
    Ok(pool
        .fetch_i64(
            &Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("roles"))
                .and_where(col("code").eq(code))
                .to_owned(),
            "id",
        )
        .await?)
}

pub async fn user_count(pool: &Pool) -> Result<i64> {
    count(pool, "users").await
}

/// Creates a user with a password. The very first user is written directly (there is no
/// one yet to be its author); later ones go through the record engine as `by`.
pub async fn create_user(
    store: &Store,
    by: Option<&Actor>,
    login: &str,
    name: &str,
    role_code: &str,
    password: &str,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<i64> {
    let pool = store.pool();
    let role = role_id(pool, role_code)
        .await?
        .ok_or_else(|| plotina_core::DomainError::invalid("role_id", "link_not_found"))?;
    let id = match by {
        Some(actor) => {
            let mut body = extra;
            body.insert("login".into(), json!(login));
            body.insert("name".into(), json!(name));
            body.insert("role_id".into(), json!(role));
            let (rec, _) = store.create(actor, Entity::User, &body, None).await?;
            rec.get("id").and_then(|v| v.as_i64()).unwrap_or_default()
        }
        None => {
            let now = plotina_core::value::now();
            let mut tx = pool.begin_write().await?;
            let id = tx
                .insert_id(
                    Query::insert()
                        .into_table(Alias::new("users"))
                        .columns(
                            ["created_at", "updated_at", "login", "name", "role_id"]
                                .map(Alias::new),
                        )
                        .values_panic(crate::db::vals([
                            now.into(),
                            now.into(),
                            login.into(),
                            name.into(),
                            role.into(),
                        ])),
                )
                .await?;
            tx.commit().await?;
            id
        }
    };
    crate::auth::set_password(pool, id, password).await?;
    Ok(id)
}

/// A default sales pipeline so that a new installation can take deals at once.
pub async fn seed_pipeline(store: &Store, actor: &Actor) -> Result<()> {
    if count(store.pool(), "pipelines").await? > 0 {
        return Ok(());
    }
    let body = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
    let (p, _) = store
        .create(
            actor,
            Entity::Pipeline,
            &body(json!({"name": "Продажи", "code": "sales", "position": 0,
                "lost_reasons": ["Дорого", "Выбрали конкурента", "Нет бюджета", "Не отвечает"]})),
            None,
        )
        .await?;
    let pid = p["id"].clone();
    let stages = [
        ("Новая", "open", 10),
        ("Квалификация", "open", 20),
        ("Коммерческое предложение", "open", 40),
        ("Переговоры", "open", 60),
        ("Договор", "open", 80),
        ("Успешно", "won", 100),
        ("Проиграна", "lost", 0),
    ];
    for (i, (name, kind, prob)) in stages.iter().enumerate() {
        store
            .create(
                actor,
                Entity::Stage,
                &body(json!({"pipeline_id": pid, "name": name, "kind": kind, "position": i, "probability": prob, "rotten_days": if *kind == "open" { json!(14) } else { json!(null) }})),
                None,
            )
            .await?;
    }
    Ok(())
}
