//! Record-level permissions as SQL: every list, get, count, search and related list goes
//! through `visible`, so a record outside the caller's scope simply does not exist for them.

use plotina_core::policy::{Action, Actor, Scope};
use plotina_core::schema::Entity;
use sea_query::{Alias, Cond, Query, SimpleExpr};

use crate::filter_sql::{always_false, col};

/// The condition a row must meet for the actor to perform `action` on it; `None` means
/// no restriction.
pub fn visible(actor: &Actor, entity: Entity, action: Action) -> Option<SimpleExpr> {
    // "Own" means owner or assignee: the same test on each of the person columns.
    let people = |test: &dyn Fn(&str) -> SimpleExpr| -> SimpleExpr {
        match entity.assignee_field() {
            Some(assignee) => Cond::any().add(test("owner_id")).add(test(assignee)).into(),
            None => test("owner_id"),
        }
    };
    let me = |column: &str| col(column).eq(actor.user_id);
    let mut cond: Option<SimpleExpr> = match actor.scope(entity, action) {
        Scope::All => None,
        Scope::None => Some(always_false()),
        Scope::Own => Some(people(&me)),
        Scope::Department if actor.department_subtree.is_empty() => Some(people(&me)),
        Scope::Department => {
            let members = Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("users"))
                .and_where(col("department_id").is_in(actor.department_subtree.clone()))
                .to_owned();
            Some(people(&|column: &str| {
                col(column).in_subquery(members.clone())
            }))
        }
    };
    // Private companies are visible to their owner and administrators only, whatever
    // the role's scope says.
    if entity == Entity::Company && !actor.is_admin {
        let private_rule: SimpleExpr = Cond::any()
            .add(col("private").eq(false))
            .add(me("owner_id"))
            .into();
        cond = Some(match cond {
            Some(c) => c.and(private_rule),
            None => private_rule,
        });
    }
    cond
}
