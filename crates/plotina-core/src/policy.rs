//! Roles and permissions: per entity and action, a scope (none / own / department / all).
//!
//! The store turns an actor's scope into a WHERE condition on every query, so a record
//! outside the scope is simply absent (404), never "forbidden" (no existence leak).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::schema::Entity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    None,
    Own,
    Department,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    Create,
    Edit,
    Delete,
    Export,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::Read,
        Action::Create,
        Action::Edit,
        Action::Delete,
        Action::Export,
    ];
}

/// `{"deal": {"read": "own", "edit": "own", ...}, ...}` as stored on a role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions(pub BTreeMap<String, BTreeMap<Action, Scope>>);

impl Permissions {
    pub fn scope(&self, entity: Entity, action: Action) -> Scope {
        self.0
            .get(entity.code())
            .and_then(|m| m.get(&action))
            .copied()
            .unwrap_or(Scope::None)
    }

    /// Parses and validates a permissions document sent by a client.
    pub fn from_json(v: &serde_json::Value) -> Result<Permissions, FieldError> {
        let perms: Permissions = serde_json::from_value(v.clone())
            .map_err(|_| FieldError::new("permissions", "permissions_invalid"))?;
        for key in perms.0.keys() {
            match Entity::from_code(key) {
                Some(e) if e.is_business() => {}
                _ => {
                    return Err(FieldError::new("permissions", "permissions_unknown_entity")
                        .with("entity", key))
                }
            }
        }
        Ok(perms)
    }

    fn uniform(levels: &[(Entity, [Scope; 5])]) -> Permissions {
        let mut map = BTreeMap::new();
        for (entity, scopes) in levels {
            let actions = Action::ALL
                .iter()
                .copied()
                .zip(scopes.iter().copied())
                .collect();
            map.insert(entity.code().to_string(), actions);
        }
        Permissions(map)
    }
}

/// The roles every new installation starts with: (code, Russian name, admin flag, rights).
pub fn seeded_roles() -> Vec<(&'static str, &'static str, bool, Permissions)> {
    use Entity::*;
    use Scope::{All as A, Department as D, None as N, Own as O};
    let every = |s: [Scope; 5]| -> Vec<(Entity, [Scope; 5])> {
        Entity::BUSINESS.iter().map(|e| (*e, s)).collect()
    };
    vec![
        (
            "admin",
            "Администратор",
            true,
            Permissions::uniform(&every([A, A, A, A, A])),
        ),
        (
            "head_of_sales",
            "Руководитель отдела продаж",
            false,
            Permissions::uniform(&[
                (Company, [A, A, D, D, D]),
                (Contact, [A, A, D, D, D]),
                (Lead, [D, A, D, D, D]),
                (Deal, [D, A, D, D, D]),
                (Activity, [D, A, D, D, D]),
            ]),
        ),
        (
            "manager",
            "Менеджер",
            false,
            Permissions::uniform(&[
                (Company, [A, A, O, N, N]),
                (Contact, [A, A, O, N, N]),
                (Lead, [O, A, O, N, N]),
                (Deal, [O, A, O, N, N]),
                (Activity, [O, A, O, O, N]),
            ]),
        ),
        (
            "support",
            "Поддержка",
            false,
            Permissions::uniform(&[
                (Company, [A, N, A, N, N]),
                (Contact, [A, A, A, N, N]),
                (Lead, [N, N, N, N, N]),
                (Deal, [D, N, N, N, N]),
                (Activity, [O, A, O, O, N]),
            ]),
        ),
        (
            "marketing",
            "Маркетинг",
            false,
            Permissions::uniform(&[
                (Company, [A, A, O, N, A]),
                (Contact, [A, A, O, N, A]),
                (Lead, [A, A, A, O, A]),
                (Deal, [N, N, N, N, N]),
                (Activity, [O, A, O, O, N]),
            ]),
        ),
    ]
}

/// Who is acting: resolved once per request from the session or API token.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub login: String,
    pub name: String,
    pub is_admin: bool,
    /// The user's role (`None` for the system actor).
    pub role_id: Option<i64>,
    /// The user's department and all departments below it.
    pub department_subtree: Vec<i64>,
    pub permissions: Permissions,
    pub language: String,
    pub time_zone: chrono_tz::Tz,
}

impl Actor {
    pub fn scope(&self, entity: Entity, action: Action) -> Scope {
        if !entity.is_business() {
            // Organisation records (users, pipelines, …) are readable by every user
            // (lists and cards need them) and managed by administrators only.
            return match (action, self.is_admin) {
                (Action::Read, _) | (_, true) => Scope::All,
                _ => Scope::None,
            };
        }
        self.permissions.scope(entity, action)
    }

    pub fn can(&self, entity: Entity, action: Action) -> bool {
        self.scope(entity, action) != Scope::None
    }

    /// The local calendar day of the actor, for `today` in filters and "overdue".
    pub fn today(&self) -> chrono::NaiveDate {
        chrono::Utc::now()
            .with_timezone(&self.time_zone)
            .date_naive()
    }

    /// A system actor for jobs, migrations and the CLI: sees and may do everything.
    pub fn system(user_id: i64) -> Actor {
        Actor {
            user_id,
            login: "system".into(),
            name: "system".into(),
            is_admin: true,
            role_id: None,
            department_subtree: Vec::new(),
            permissions: Permissions::uniform(
                &Entity::BUSINESS
                    .iter()
                    .map(|e| (*e, [Scope::All; 5]))
                    .collect::<Vec<_>>(),
            ),
            language: "ru".into(),
            time_zone: chrono_tz::Europe::Moscow,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_manager_sees_only_own_deals() {
        let roles = seeded_roles();
        let (_, _, _, manager) = roles.iter().find(|r| r.0 == "manager").unwrap();
        assert_eq!(manager.scope(Entity::Deal, Action::Read), Scope::Own);
        assert_eq!(manager.scope(Entity::Deal, Action::Export), Scope::None);
        assert_eq!(manager.scope(Entity::Company, Action::Read), Scope::All);
    }

    #[test]
    fn permissions_reject_unknown_entities() {
        let bad = serde_json::json!({"spaceship": {"read": "all"}});
        assert_eq!(
            Permissions::from_json(&bad).unwrap_err().code,
            "permissions_unknown_entity"
        );
        let bad_scope = serde_json::json!({"deal": {"read": "galaxy"}});
        assert!(Permissions::from_json(&bad_scope).is_err());
        let ok = serde_json::json!({"deal": {"read": "own", "edit": "none"}});
        assert_eq!(
            Permissions::from_json(&ok)
                .unwrap()
                .scope(Entity::Deal, Action::Read),
            Scope::Own
        );
    }
}
