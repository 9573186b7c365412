//! Saved list views of the web interface: a name, the filter text, the sort and the
//! chosen columns of one entity's list; personal, or shared with everyone.

use plotina_core::error::DomainError;
use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_core::value::clean_text;
use sea_query::{Alias, Cond, Order, Query};

use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SavedView {
    pub id: i64,
    pub entity: String,
    pub name: String,
    pub filter: String,
    pub sort: String,
    pub columns: String,
    pub owner_id: i64,
    pub shared: bool,
}

/// What a user asks to save.
#[derive(Debug, Clone, Default)]
pub struct NewView {
    pub name: String,
    pub filter: String,
    pub sort: String,
    pub columns: String,
    pub shared: bool,
}

fn visible_to(actor: &Actor) -> Cond {
    Cond::any()
        .add(col("owner_id").eq(actor.user_id))
        .add(col("shared").eq(true))
}

fn check(view: &NewView) -> Result<(String, String, String, String)> {
    let mut errors = Vec::new();
    let mut take = |field: &'static str, v: &str, max: usize, required: bool| match clean_text(
        v, max, false,
    ) {
        Ok(Some(s)) => s,
        Ok(None) => {
            if required {
                errors.push(plotina_core::FieldError::new(field, "required"));
            }
            String::new()
        }
        Err(e) => {
            let mut fe = plotina_core::FieldError::new(field, e.code);
            fe.args = e.args;
            errors.push(fe);
            String::new()
        }
    };
    let name = take("name", &view.name, 100, true);
    let filter = take(
        "filter",
        &view.filter,
        plotina_core::filter::MAX_INPUT_CHARS,
        false,
    );
    let sort = take("sort", &view.sort, 500, false);
    let columns = take("columns", &view.columns, 2000, false);
    if !errors.is_empty() {
        return fail(DomainError::Invalid(errors));
    }
    plotina_core::filter::parse(&filter).map_err(DomainError::BadFilter)?;
    Ok((name, filter, sort, columns))
}

impl Store {
    /// The actor's own views and the shared ones of an entity, by name.
    pub async fn saved_views(&self, actor: &Actor, entity: Entity) -> Result<Vec<SavedView>> {
        let q = Query::select()
            .columns(
                [
                    "id", "entity", "name", "filter", "sort", "columns", "owner_id", "shared",
                ]
                .map(Alias::new),
            )
            .from(Alias::new("saved_views"))
            .and_where(col("entity").eq(entity.code()))
            .cond_where(visible_to(actor))
            .order_by(Alias::new("name"), Order::Asc)
            .order_by(Alias::new("id"), Order::Asc)
            .to_owned();
        let mut tx = self.pool().begin().await?;
        let rows = tx.fetch_all(&q).await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(SavedView {
                id: r.i64("id")?.unwrap_or_default(),
                entity: r.text("entity")?.unwrap_or_default(),
                name: r.text("name")?.unwrap_or_default(),
                filter: r.text("filter")?.unwrap_or_default(),
                sort: r.text("sort")?.unwrap_or_default(),
                columns: r.text("columns")?.unwrap_or_default(),
                owner_id: r.i64("owner_id")?.unwrap_or_default(),
                shared: r.bool("shared")?,
            });
        }
        Ok(out)
    }

    /// One view the actor may use (their own or a shared one).
    pub async fn saved_view(&self, actor: &Actor, entity: Entity, id: i64) -> Result<SavedView> {
        let views = self.saved_views(actor, entity).await?;
        views
            .into_iter()
            .find(|v| v.id == id)
            .ok_or_else(crate::StoreError::not_found)
    }

    pub async fn create_view(&self, actor: &Actor, entity: Entity, view: &NewView) -> Result<i64> {
        let (name, filter, sort, columns) = check(view)?;
        let now = plotina_core::value::now();
        let mut tx = self.pool().begin_write().await?;
        let id = tx
            .insert_id(
                Query::insert()
                    .into_table(Alias::new("saved_views"))
                    .columns(
                        [
                            "entity",
                            "name",
                            "filter",
                            "sort",
                            "columns",
                            "owner_id",
                            "shared",
                            "created_at",
                            "updated_at",
                        ]
                        .map(Alias::new),
                    )
                    .values_panic(crate::db::vals([
                        entity.code().into(),
                        name.into(),
                        filter.into(),
                        sort.into(),
                        columns.into(),
                        actor.user_id.into(),
                        view.shared.into(),
                        now.into(),
                        now.into(),
                    ])),
            )
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Deletes a view: its owner may, and an administrator may delete a shared one.
    pub async fn delete_view(&self, actor: &Actor, id: i64) -> Result<()> {
        let mut allowed = Cond::any().add(col("owner_id").eq(actor.user_id));
        if actor.is_admin {
            allowed = allowed.add(col("shared").eq(true));
        }
        let mut tx = self.pool().begin_write().await?;
        let n = tx
            .execute(
                &Query::delete()
                    .from_table(Alias::new("saved_views"))
                    .and_where(col("id").eq(id))
                    .cond_where(allowed)
                    .to_owned(),
            )
            .await?;
        tx.commit().await?;
        if n == 0 {
            return fail(DomainError::NotFound);
        }
        Ok(())
    }
}
