//! Where things are: every path the pages link to, in one place.

use plotina_core::schema::Entity;

pub fn list(entity: Entity) -> String {
    format!("/{}", entity.plural())
}

pub fn card(entity: Entity, id: i64) -> String {
    match entity {
        Entity::Company | Entity::Contact | Entity::Lead | Entity::Deal | Entity::Activity => {
            format!("/{}/{id}", entity.plural())
        }
        Entity::Pipeline => format!("/settings/pipelines/{id}"),
        Entity::User | Entity::Department | Entity::Role | Entity::CustomField => {
            format!("/settings/{}/{id}", entity.plural())
        }
        Entity::Stage => "/settings/pipelines".to_string(),
    }
}

pub fn new(entity: Entity) -> String {
    format!("/{}/new", entity.plural())
}

pub fn edit(entity: Entity, id: i64) -> String {
    format!("/{}/{id}/edit", entity.plural())
}

/// A query string from pairs, with empty values left out.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if kept.is_empty() {
        return String::new();
    }
    format!("?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
}

/// Only local paths may be redirect targets (no open redirects).
pub fn safe_next(next: &str) -> String {
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\r', '\n'])
    {
        next.to_string()
    } else {
        "/".to_string()
    }
}

pub const STATIC_CSS: &str = "/static/app.css";
pub const STATIC_JS: &str = "/static/app.js";
