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
    let actor = actor_in(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(actor)
}

/// The `user_id` of a live (not revoked) API token.
fn live_token(token: &str) -> sea_query::SelectStatement {
    Query::select()
        .column(Alias::new("user_id"))
        .from(Alias::new("api_tokens"))
        .and_where(col("token_hash").eq(hash_secret(token)))
        .and_where(col("revoked_at").is_null())
        .to_owned()
}

/// The user behind an API token and their actor, in one transaction (every API request
/// asks).
pub async fn token_actor(pool: &Pool, token: &str) -> Result<Option<Actor>> {
    let mut tx = pool.begin().await?;
    let user = tx
        .fetch_optional(&live_token(token))
        .await?
        .map(|r| r.i64("user_id"))
        .transpose()?
        .flatten();
    let actor = match user {
        Some(user) => actor_in(&mut tx, user).await?,
        None => None,
    };
    tx.commit().await?;
    Ok(actor)
}

/// A browser session and its user's actor, in one transaction (every page asks).
pub async fn session_actor(pool: &Pool, cookie: &str) -> Result<Option<(Session, Actor)>> {
    let mut tx = pool.begin().await?;
    let Some(session) = session_in(&mut tx, cookie).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let actor = actor_in(&mut tx, session.user_id).await?;
    tx.commit().await?;
    Ok(actor.map(|a| (session, a)))
}

async fn actor_in(tx: &mut crate::db::Tx, user_id: i64) -> Result<Option<Actor>> {
    let q = Query::select()
        .expr_as(
            sea_query::Expr::col((Alias::new("u"), Alias::new("id"))),
            Alias::new("id"),
        )
        .columns([
            (Alias::new("u"), Alias::new("login")),
            (Alias::new("u"), Alias::new("name")),
            (Alias::new("u"), Alias::new("department_id")),
            (Alias::new("u"), Alias::new("role_id")),
            (Alias::new("u"), Alias::new("language")),
            (Alias::new("u"), Alias::new("time_zone")),
        ])
        .columns([
            (Alias::new("r"), Alias::new("is_admin")),
            (Alias::new("r"), Alias::new("permissions")),
        ])
        .from_as(Alias::new("users"), Alias::new("u"))
        .join_as(
            sea_query::JoinType::InnerJoin,
            Alias::new("roles"),
            Alias::new("r"),
            sea_query::Expr::col((Alias::new("r"), Alias::new("id")))
                .equals((Alias::new("u"), Alias::new("role_id"))),
        )
        .and_where(sea_query::Expr::col((Alias::new("u"), Alias::new("id"))).eq(user_id))
        .and_where(sea_query::Expr::col((Alias::new("u"), Alias::new("active"))).eq(true))
        .and_where(sea_query::Expr::col((Alias::new("u"), Alias::new("deleted_at"))).is_null())
        .to_owned();
    let Some(row) = tx.fetch_optional(&q).await? else {
        return Ok(None);
    };
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
        let pairs: Vec<(i64, Option<i64>)> = rows
            .iter()
            .map(|r| Ok((r.i64("id")?.unwrap_or_default(), r.i64("parent_id")?)))
            .collect::<Result<_, sqlx::Error>>()?;
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
    Ok(Some(Actor {
        user_id,
        login: row.text("login")?.unwrap_or_default(),
        name: row.text("name")?.unwrap_or_default(),
        is_admin: row.bool("is_admin")?,
        role_id: row.i64("role_id")?,
        department_subtree: subtree,
        permissions,
        language: row.text("language")?.unwrap_or_else(|| "ru".into()),
        time_zone: row
            .text("time_zone")?
            .and_then(|t| t.parse().ok())
            .unwrap_or(chrono_tz::Europe::Moscow),
    }))
}

pub(crate) fn random_secret(prefix: &str) -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

fn verify_hash(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a login and password; `None` for an unknown login, a wrong password or an
/// inactive user alike (no hint which).
pub async fn verify_password(pool: &Pool, login: &str, password: &str) -> Result<Option<i64>> {
    let mut tx = pool.begin().await?;
    let row = tx
        .fetch_optional(
            &Query::select()
                .columns(["id", "password_hash", "active"].map(Alias::new))
                .from(Alias::new("users"))
                .and_where(col("login").eq(login.trim()))
                .and_where(col("deleted_at").is_null())
                .to_owned(),
        )
        .await?;
    tx.commit().await?;
    let Some(row) = row else {
        // Spend the same time as a real check, so response times do not reveal logins.
        let _ = verify_hash(password, "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$u7yU0Y1e0a0o8lqS9y1uLhJ6sM7lO3bZCm2n0nYk3W0");
        return Ok(None);
    };
    let ok = row.bool("active")?
        && row
            .text("password_hash")?
            .is_some_and(|h| verify_hash(password, &h));
    Ok(if ok { row.i64("id")? } else { None })
}

pub async fn set_password(pool: &Pool, user_id: i64, password: &str) -> Result<()> {
    let hash = hash_password(password)?;
    let mut tx = pool.begin_write().await?;
    tx.execute(
        &Query::update()
            .table(Alias::new("users"))
            .value(Alias::new("password_hash"), hash)
            .and_where(col("id").eq(user_id))
            .to_owned(),
    )
    .await?;
    // A new password ends every open session of the user.
    tx.execute(
        &Query::delete()
            .from_table(Alias::new("sessions"))
            .and_where(col("user_id").eq(user_id))
            .to_owned(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn user_id_by_login(pool: &Pool, login: &str) -> Result<Option<i64>> {
    Ok(pool
        .fetch_i64(
            &Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("users"))
                .and_where(col("login").eq(login))
                .to_owned(),
            "id",
        )
        .await?)
}

/// Creates an API token and returns it; only its hash is stored.
pub async fn create_token(pool: &Pool, user_id: i64, name: &str) -> Result<(i64, String)> {
    let token = random_secret("plt_");
    let mut tx = pool.begin_write().await?;
    let id = tx
        .insert_id(
            Query::insert()
                .into_table(Alias::new("api_tokens"))
                .columns(["user_id", "name", "token_hash", "created_at"].map(Alias::new))
                .values_panic(crate::db::vals([
                    user_id.into(),
                    name.into(),
                    hash_secret(&token).into(),
                    plotina_core::value::now().into(),
                ])),
        )
        .await?;
    tx.commit().await?;
    Ok((id, token))
}

pub async fn revoke_token(pool: &Pool, token_id: i64) -> Result<bool> {
    let mut tx = pool.begin_write().await?;
    let n = tx
        .execute(
            &Query::update()
                .table(Alias::new("api_tokens"))
                .value(Alias::new("revoked_at"), plotina_core::value::now())
                .and_where(col("id").eq(token_id))
                .and_where(col("revoked_at").is_null())
                .to_owned(),
        )
        .await?;
    tx.commit().await?;
    Ok(n > 0)
}

/// The user behind a bearer token, if the token is live.
pub async fn token_user(pool: &Pool, token: &str) -> Result<Option<i64>> {
    Ok(pool.fetch_i64(&live_token(token), "user_id").await?)
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: i64,
    pub csrf_token: String,
}

/// Opens a browser session; returns the cookie value and the CSRF token.
pub async fn create_session(
    pool: &Pool,
    user_id: i64,
    ttl: chrono::Duration,
) -> Result<(String, String)> {
    let id = random_secret("");
    let csrf = random_secret("");
    let now = plotina_core::value::now();
    let mut tx = pool.begin_write().await?;
    tx.execute(
        Query::insert()
            .into_table(Alias::new("sessions"))
            .columns(
                [
                    "id_hash",
                    "user_id",
                    "csrf_token",
                    "created_at",
                    "expires_at",
                ]
                .map(Alias::new),
            )
            .values_panic(crate::db::vals([
                hash_secret(&id).into(),
                user_id.into(),
                csrf.clone().into(),
                now.into(),
                (now + ttl).into(),
            ])),
    )
    .await?;
    // Expired sessions are swept on the way.
    tx.execute(
        &Query::delete()
            .from_table(Alias::new("sessions"))
            .and_where(col("expires_at").lt(now))
            .to_owned(),
    )
    .await?;
    tx.commit().await?;
    Ok((id, csrf))
}

pub async fn session(pool: &Pool, cookie: &str) -> Result<Option<Session>> {
    let mut tx = pool.begin().await?;
    let session = session_in(&mut tx, cookie).await?;
    tx.commit().await?;
    Ok(session)
}

async fn session_in(tx: &mut crate::db::Tx, cookie: &str) -> Result<Option<Session>> {
    let row = tx
        .fetch_optional(
            &Query::select()
                .columns(["user_id", "csrf_token"].map(Alias::new))
                .from(Alias::new("sessions"))
                .and_where(col("id_hash").eq(hash_secret(cookie)))
                .and_where(col("expires_at").gt(plotina_core::value::now()))
                .to_owned(),
        )
        .await?;
    Ok(match row {
        Some(r) => Some(Session {
            user_id: r.i64("user_id")?.unwrap_or_default(),
            csrf_token: r.text("csrf_token")?.unwrap_or_default(),
        }),
        None => None,
    })
}

pub async fn delete_session(pool: &Pool, cookie: &str) -> Result<()> {
    let mut tx = pool.begin_write().await?;
    tx.execute(
        &Query::delete()
            .from_table(Alias::new("sessions"))
            .and_where(col("id_hash").eq(hash_secret(cookie)))
            .to_owned(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

pub async fn list_tokens(pool: &Pool, user_id: i64) -> Result<Vec<TokenInfo>> {
    let mut tx = pool.begin().await?;
    let rows = tx
        .fetch_all(
            &Query::select()
                .columns(["id", "name", "created_at", "revoked_at"].map(Alias::new))
                .from(Alias::new("api_tokens"))
                .and_where(col("user_id").eq(user_id))
                .order_by(Alias::new("id"), sea_query::Order::Desc)
                .to_owned(),
        )
        .await?;
    tx.commit().await?;
    let mut out = Vec::new();
    for r in rows {
        out.push(TokenInfo {
            id: r.i64("id")?.unwrap_or_default(),
            name: r.text("name")?.unwrap_or_default(),
            created_at: r
                .datetime("created_at")?
                .map(plotina_core::value::format_datetime)
                .unwrap_or_default(),
            revoked_at: r
                .datetime("revoked_at")?
                .map(plotina_core::value::format_datetime),
        });
    }
    Ok(out)
}

pub async fn token_owner(pool: &Pool, token_id: i64) -> Result<Option<i64>> {
    Ok(pool
        .fetch_i64(
            &Query::select()
                .column(Alias::new("user_id"))
                .from(Alias::new("api_tokens"))
                .and_where(col("id").eq(token_id))
                .to_owned(),
            "user_id",
        )
        .await?)
}

/// The oldest active administrator (the CLI acts as them).
pub async fn first_admin(pool: &Pool) -> Result<Option<i64>> {
    let q = Query::select()
        .expr_as(
            sea_query::Expr::col((Alias::new("u"), Alias::new("id"))),
            Alias::new("id"),
        )
        .from_as(Alias::new("users"), Alias::new("u"))
        .join_as(
            sea_query::JoinType::InnerJoin,
            Alias::new("roles"),
            Alias::new("r"),
            sea_query::Expr::col((Alias::new("r"), Alias::new("id")))
                .equals((Alias::new("u"), Alias::new("role_id"))),
        )
        .and_where(sea_query::Expr::col((Alias::new("r"), Alias::new("is_admin"))).eq(true))
        .and_where(sea_query::Expr::col((Alias::new("u"), Alias::new("active"))).eq(true))
        .order_by((Alias::new("u"), Alias::new("id")), sea_query::Order::Asc)
        .limit(1)
        .to_owned();
    Ok(pool.fetch_i64(&q, "id").await?)
}
