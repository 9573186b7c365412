//! File attachments: metadata in `attachments`, content on disk by SHA-256 (written by
//! the server). Every read goes through the record's read permission.

use plotina_core::error::DomainError;
use plotina_core::policy::{Action, Actor};
use plotina_core::schema::Entity;
use sea_query::{Alias, Order, Query};
use serde::Serialize;

use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::listing::QueryCtx;
use crate::records;
use crate::store::Store;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attachment {
    pub id: i64,
    pub entity: String,
    pub record_id: i64,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: String,
    pub created_by: Option<i64>,
}

const COLUMNS: [&str; 9] = [
    "id",
    "entity",
    "record_id",
    "file_name",
    "content_type",
    "size",
    "sha256",
    "created_at",
    "created_by",
];

fn from_row(r: &crate::db::Row) -> Result<Attachment> {
    Ok(Attachment {
        id: r.i64("id")?.unwrap_or_default(),
        entity: r.text("entity")?.unwrap_or_default(),
        record_id: r.i64("record_id")?.unwrap_or_default(),
        file_name: r.text("file_name")?.unwrap_or_default(),
        content_type: r.text("content_type")?.unwrap_or_default(),
        size: r.i64("size")?.unwrap_or_default(),
        sha256: r.text("sha256")?.unwrap_or_default(),
        created_at: r
            .datetime("created_at")?
            .map(plotina_core::value::format_datetime)
            .unwrap_or_default(),
        created_by: r.i64("created_by")?,
    })
}

pub struct NewAttachment<'a> {
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a str,
}

impl Store {
    fn with_ctx<'a>(
        &self,
        actor: &'a Actor,
        customs: &'a (dyn Fn(Entity) -> Vec<plotina_core::record::CustomFieldDef> + Sync),
    ) -> QueryCtx<'a> {
        QueryCtx {
            backend: self.backend(),
            actor,
            custom: customs,
        }
    }

    /// Records an uploaded file on a record the actor may edit.
    pub async fn add_attachment(
        &self,
        actor: &Actor,
        entity: Entity,
        record_id: i64,
        file: NewAttachment<'_>,
    ) -> Result<Attachment> {
        if !entity.is_business() {
            return fail(DomainError::NotFound);
        }
        let customs = |_: Entity| Vec::new();
        let ctx = self.with_ctx(actor, &customs);
        let mut tx = self.pool().begin_write().await?;
        records::fetch_for(&mut tx, &ctx, entity, record_id, Action::Edit, false).await?;
        let name = plotina_core::value::clean_text(file.file_name, 255, false)
            .map_err(|e| DomainError::invalid("name", e.code))?
            .unwrap_or_else(|| "file".into());
        let now = plotina_core::value::now();
        let id = tx
            .insert_id(
                Query::insert()
                    .into_table(Alias::new("attachments"))
                    .columns(
                        [
                            "entity",
                            "record_id",
                            "file_name",
                            "content_type",
                            "size",
                            "sha256",
                            "created_at",
                            "created_by",
                        ]
                        .map(Alias::new),
                    )
                    .values_panic(crate::db::vals([
                        entity.code().into(),
                        record_id.into(),
                        name.clone().into(),
                        file.content_type.into(),
                        file.size.into(),
                        file.sha256.into(),
                        now.into(),
                        actor.user_id.into(),
                    ])),
            )
            .await?;
        let change = vec![(
            "attachment".to_string(),
            serde_json::Value::Null,
            serde_json::json!(name),
        )];
        crate::history::write(
            &mut tx,
            entity,
            record_id,
            "attach",
            &change,
            now,
            actor.user_id,
        )
        .await?;
        tx.commit().await?;
        self.attachment(actor, id).await
    }

    /// An attachment, if the actor may read its record.
    pub async fn attachment(&self, actor: &Actor, id: i64) -> Result<Attachment> {
        let customs = |_: Entity| Vec::new();
        let ctx = self.with_ctx(actor, &customs);
        let mut tx = self.pool().begin().await?;
        let q = Query::select()
            .columns(COLUMNS.map(Alias::new))
            .from(Alias::new("attachments"))
            .and_where(col("id").eq(id))
            .and_where(col("deleted_at").is_null())
            .to_owned();
        let a = match tx.fetch_optional(&q).await? {
            Some(r) => from_row(&r)?,
            None => return fail(DomainError::NotFound),
        };
        let entity = Entity::from_code(&a.entity).ok_or(DomainError::NotFound)?;
        if !records::readable(&mut tx, &ctx, entity, a.record_id).await? {
            return fail(DomainError::NotFound);
        }
        tx.commit().await?;
        Ok(a)
    }

    pub async fn attachments(
        &self,
        actor: &Actor,
        entity: Entity,
        record_id: i64,
    ) -> Result<Vec<Attachment>> {
        let customs = |_: Entity| Vec::new();
        let ctx = self.with_ctx(actor, &customs);
        let mut tx = self.pool().begin().await?;
        if !entity.is_business() || !records::readable(&mut tx, &ctx, entity, record_id).await? {
            return fail(DomainError::NotFound);
        }
        let q = Query::select()
            .columns(COLUMNS.map(Alias::new))
            .from(Alias::new("attachments"))
            .and_where(col("entity").eq(entity.code()))
            .and_where(col("record_id").eq(record_id))
            .and_where(col("deleted_at").is_null())
            .order_by(Alias::new("id"), Order::Desc)
            .to_owned();
        let rows = tx.fetch_all(&q).await?;
        tx.commit().await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn delete_attachment(&self, actor: &Actor, id: i64) -> Result<()> {
        let a = self.attachment(actor, id).await?;
        let entity = Entity::from_code(&a.entity).ok_or(DomainError::NotFound)?;
        let customs = |_: Entity| Vec::new();
        let ctx = self.with_ctx(actor, &customs);
        let mut tx = self.pool().begin_write().await?;
        records::fetch_for(&mut tx, &ctx, entity, a.record_id, Action::Edit, false).await?;
        let now = plotina_core::value::now();
        tx.execute(
            &Query::update()
                .table(Alias::new("attachments"))
                .value(Alias::new("deleted_at"), now)
                .and_where(col("id").eq(id))
                .to_owned(),
        )
        .await?;
        let change = vec![(
            "attachment".to_string(),
            serde_json::json!(a.file_name),
            serde_json::Value::Null,
        )];
        crate::history::write(
            &mut tx,
            entity,
            a.record_id,
            "detach",
            &change,
            now,
            actor.user_id,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
