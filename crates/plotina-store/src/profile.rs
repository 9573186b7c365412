//! A user's own preferences (language, time zone), which they may change without the
//! administrator rights that editing user records requires.

use plotina_core::error::DomainError;
use plotina_core::policy::Actor;
use plotina_core::schema::{Entity, FieldKind};
use plotina_core::value::{parse_field, Value};
use sea_query::{Alias, Expr as SqlExpr, Query};
use serde_json::{json, Value as Json};

use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::store::Store;

impl Store {
    /// Sets the actor's own interface language (`ru` or `en`), with a history entry.
    pub async fn set_own_language(&self, actor: &Actor, language: &str) -> Result<()> {
        self.set_own_preference(actor, "language", FieldKind::Language, language)
            .await
    }

    /// Sets the actor's own time zone (an IANA name such as `Asia/Yekaterinburg`).
    pub async fn set_own_time_zone(&self, actor: &Actor, time_zone: &str) -> Result<()> {
        self.set_own_preference(actor, "time_zone", FieldKind::TimeZone, time_zone)
            .await
    }

    async fn set_own_preference(
        &self,
        actor: &Actor,
        field: &'static str,
        kind: FieldKind,
        raw: &str,
    ) -> Result<()> {
        let value = match parse_field(kind, &json!(raw)) {
            Ok(Value::Text(s)) => s,
            Ok(_) => return fail(DomainError::invalid(field, "required")),
            Err(e) => {
                let mut fe = plotina_core::FieldError::new(field, e.code);
                fe.args = e.args;
                return fail(DomainError::Invalid(vec![fe]));
            }
        };
        let old = match field {
            "language" => actor.language.clone(),
            _ => actor.time_zone.name().to_string(),
        };
        if old == value {
            return Ok(());
        }
        let now = plotina_core::value::now();
        let mut tx = self.pool().begin_write().await?;
        tx.execute(
            &Query::update()
                .table(Alias::new("users"))
                .value(Alias::new(field), value.clone())
                .value(Alias::new("updated_at"), now)
                .value(Alias::new("updated_by"), actor.user_id)
                .value(
                    Alias::new("version"),
                    SqlExpr::col(Alias::new("version")).add(1),
                )
                .and_where(col("id").eq(actor.user_id))
                .to_owned(),
        )
        .await?;
        let change = vec![(field.to_string(), Json::String(old), Json::String(value))];
        crate::history::write(
            &mut tx,
            Entity::User,
            actor.user_id,
            "update",
            &change,
            now,
            actor.user_id,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
