//! Users' credentials, API tokens and browser sessions, and resolving who is acting.

use plotina_core::policy::{Actor, Permissions};
use sea_query::{Alias, Query};
use sha2::{Digest, Sha256};

use crate::db::Pool;
use crate::error::Result;
use crate::filter_sql::col;

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Builds the actor for a user id: role permissions and department subtree.
pub async fn actor_for(pool: &Pool, user_id: i64) -> Result<Option<Actor>> {
    let mut tx = pool.begin().await?;
    let q = Query::select()
        .expr_as(sea_query::Expr::col((Alias::new("u"), Alias::new("id"))), Alias::new("id"))
        .columns([(Alias::new("u"), Alias::new("login")), (Alias::new("u"), Alias::new("name")), (Alias::new("u"), Alias::new("department_id")), (Alias::new("u"), Alias::new("language")), (Alias::new("u"), Alias::new("time_zone"))])
        .columns([(Alias::new("r"), Alias::new("is_admin")), (Alias::new("r"), Alias::new("permissions"))])
        .from_as(Alias::new("users"), Alias::new("u"))
        .join_as(
            sea_query::JoinType::InnerJoin,
            Alias::new("roles"),
            Alias::new("r"),
            sea_query::Expr::col((Alias::new("r"), Alias::new("id"))).equals((Alias::new("u"), Alias::new("role_id"))),
        )
        .and_where(sea_query::Expr::col((Alias::new("u"), Alias::new("id"))).eq(user_id))
        .and_where(sea_query::Expr::col((Alias::new("u"), Alias::new("active"))).eq(true))
        .and_where(sea_query::Expr::col((Alias::new("u"), Alias::new("deleted_at"))).is_null())
        .to_owned();
    let Some(row) = tx.fetch_optional(&q).await? else { return Ok(None) };
    let department = row.i64("department_id")?;
    let mut subtree = Vec::new();
    if let Some(root) = department {
        let rows = tx
            .fetch_all(
                &Query::select()
                    .columns(["id", "parent_id"].map(Alias::new))
                    .from(Alias::new("departments"))
                    .and_where(col("deleted_at").is_null())
                    .to_owned(),
            )
            .await?;
        let pairs: Vec<(i64, Option<i64>)> =
            rows.iter().map(|r| Ok((r.i64("id")?.unwrap_or_default(), r.i64("parent_id")?))).collect::<Result<_, sqlx::Error>>()?;
        subtree.push(root);
        let mut i = 0;
        while i < subtree.len() {
            let parent = subtree[i];
            for (id, p) in &pairs {
                if *p == Some(parent) && !subtree.contains(id) {
                    subtree.push(*id);
                }
            }
            i += 1;
        }
    }
    let permissions = row
        .json("permissions")?
        .and_then(|j| serde_json::from_value::<Permissions>(j).ok())
        .unwrap_or_default();
    tx.commit().await?;
    Ok(Some(Actor {
        user_id,
        login: row.text("login")?.unwrap_or_default(),
        name: row.text("name")?.unwrap_or_default(),
        is_admin: row.bool("is_admin")?,
        department_subtree: subtree,
        permissions,
        language: row.text("language")?.unwrap_or_else(|| "ru".into()),
        time_zone: row.text("time_zone")?.and_then(|t| t.parse().ok()).unwrap_or(chrono_tz::Europe::Moscow),
    }))
}
