//! Organisation records every page needs to show names instead of ids (users,
//! pipelines, stages, departments, roles), and titles of linked business records,
//! always read through the store as the viewer (so a hidden record stays hidden).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_store::{ListParams, Record, Store};
use serde_json::Value as Json;

use super::errors::WebError;

#[derive(Debug, Clone)]
pub struct Named {
    pub id: i64,
    pub name: String,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct PipelineRef {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub lost_reasons: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StageRef {
    pub id: i64,
    pub pipeline_id: i64,
    pub name: String,
    pub kind: String,
    pub position: i64,
    pub probability: i64,
    pub rotten_days: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct Lookups {
    pub users: Vec<Named>,
    pub pipelines: Vec<PipelineRef>,
    pub stages: Vec<StageRef>,
    pub departments: Vec<Named>,
    pub roles: Vec<Named>,
    /// Custom fields of every record type; loaded only by the pages that offer fields
    /// to pick (the rule editor), empty elsewhere.
    pub custom_fields: Vec<plotina_core::record::CustomFieldDef>,
}

pub fn id_of(rec: &Record) -> i64 {
    rec.get("id").and_then(Json::as_i64).unwrap_or_default()
}

pub fn str_of<'a>(rec: &'a Record, name: &str) -> &'a str {
    rec.get(name).and_then(Json::as_str).unwrap_or("")
}

pub async fn all(
    store: &Store,
    actor: &Actor,
    entity: Entity,
    sort: &str,
) -> Result<Vec<Record>, WebError> {
    let params = ListParams {
        sort: Some(sort.into()),
        limit: Some(500),
        ..Default::default()
    };
    Ok(store.list(actor, entity, &params).await?.data)
}

impl Lookups {
    pub async fn load(store: &Store, actor: &Actor) -> Result<Lookups, WebError> {
        let named = |recs: Vec<Record>| -> Vec<Named> {
            recs.iter()
                .map(|r| Named {
                    id: id_of(r),
                    name: str_of(r, "name").to_string(),
                    active: r.get("active").and_then(Json::as_bool).unwrap_or(true),
                })
                .collect()
        };
        // One transaction, and only the columns shown: every page reads these, and the
        // 200 users' whole records were the largest read of a list page.
        let params = |sort: &str| ListParams {
            sort: Some(sort.into()),
            limit: Some(500),
            ..Default::default()
        };
        let named_cols: &[&str] = &["name", "active"];
        let mut pages = store
            .list_many(
                actor,
                &[
                    (Entity::User, params("name"), Some(named_cols)),
                    (Entity::Department, params("name"), Some(named_cols)),
                    (Entity::Role, params("name"), Some(named_cols)),
                    (
                        Entity::Pipeline,
                        params("position,name"),
                        Some(&["name", "active", "lost_reasons"]),
                    ),
                    (
                        Entity::Stage,
                        params("position"),
                        Some(&[
                            "pipeline_id",
                            "name",
                            "kind",
                            "position",
                            "probability",
                            "rotten_days",
                        ]),
                    ),
                ],
            )
            .await?
            .into_iter()
            .map(|p| p.data);
        let mut next = || pages.next().unwrap_or_default();
        let users = named(next());
        let departments = named(next());
        let roles = named(next());
        let pipelines = next()
            .iter()
            .map(|r| PipelineRef {
                id: id_of(r),
                name: str_of(r, "name").to_string(),
                active: r.get("active").and_then(Json::as_bool).unwrap_or(true),
                lost_reasons: r
                    .get("lost_reasons")
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        let mut stages: Vec<StageRef> = next()
            .iter()
            .map(|r| StageRef {
                id: id_of(r),
                pipeline_id: r
                    .get("pipeline_id")
                    .and_then(Json::as_i64)
                    .unwrap_or_default(),
                name: str_of(r, "name").to_string(),
                kind: str_of(r, "kind").to_string(),
                position: r.get("position").and_then(Json::as_i64).unwrap_or_default(),
                probability: r
                    .get("probability")
                    .and_then(Json::as_i64)
                    .unwrap_or_default(),
                rotten_days: r.get("rotten_days").and_then(Json::as_i64),
            })
            .collect();
        // The order a deal travels: open stages by position, then the closing ones.
        stages.sort_by_key(|s| (s.pipeline_id, s.kind != "open", s.position, s.id));
        Ok(Lookups {
            users,
            pipelines,
            stages,
            departments,
            roles,
            custom_fields: Vec::new(),
        })
    }

    pub fn user(&self, id: i64) -> Option<&str> {
        self.users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.as_str())
    }

    pub fn stage(&self, id: i64) -> Option<&StageRef> {
        self.stages.iter().find(|s| s.id == id)
    }

    pub fn pipeline(&self, id: i64) -> Option<&PipelineRef> {
        self.pipelines.iter().find(|p| p.id == id)
    }

    pub fn stages_of(&self, pipeline: i64) -> impl Iterator<Item = &StageRef> {
        self.stages
            .iter()
            .filter(move |s| s.pipeline_id == pipeline)
    }

    /// The name of an organisation record, if it is one.
    pub fn org_name(&self, entity: Entity, id: i64) -> Option<String> {
        match entity {
            Entity::User => self.user(id).map(String::from),
            Entity::Pipeline => self.pipeline(id).map(|p| p.name.clone()),
            Entity::Stage => self.stage(id).map(|s| s.name.clone()),
            Entity::Department => self
                .departments
                .iter()
                .find(|d| d.id == id)
                .map(|d| d.name.clone()),
            Entity::Role => self
                .roles
                .iter()
                .find(|d| d.id == id)
                .map(|d| d.name.clone()),
            _ => None,
        }
    }
}

/// Titles of linked business records, read as the viewer.
#[derive(Debug, Clone, Default)]
pub struct Titles(pub HashMap<(Entity, i64), String>);

impl Titles {
    pub async fn load(
        store: &Store,
        actor: &Actor,
        wanted: &BTreeMap<Entity, BTreeSet<i64>>,
    ) -> Result<Titles, WebError> {
        let mut out = HashMap::new();
        for (entity, ids) in wanted {
            if ids.is_empty() || !entity.is_business() {
                continue;
            }
            let list: Vec<String> = ids.iter().take(500).map(i64::to_string).collect();
            // Only the titles, in id order (rows by primary key, no sort): the whole
            // records of a kanban's 140 companies took 4 ms to read.
            let params = ListParams {
                filter: Some(format!("id in ({})", list.join(", "))),
                sort: Some("id".into()),
                limit: Some(500),
                ..Default::default()
            };
            let title: &[&str] = &[entity.title_field()];
            let pages = store
                .list_many(actor, &[(*entity, params, Some(title))])
                .await?;
            for rec in pages.into_iter().flat_map(|p| p.data) {
                out.insert((*entity, id_of(&rec)), title_of(*entity, &rec));
            }
        }
        Ok(Titles(out))
    }

    pub fn get(&self, entity: Entity, id: i64) -> Option<&str> {
        self.0.get(&(entity, id)).map(String::as_str)
    }
}

/// A record's name as shown in links.
pub fn title_of(entity: Entity, rec: &Record) -> String {
    let t = str_of(rec, entity.title_field());
    if t.is_empty() {
        format!("#{}", id_of(rec))
    } else {
        t.to_string()
    }
}
