//! The global search page: companies, contacts, deals and leads found by name (any
//! grammatical form), INN, e-mail or phone in any format, within the viewer's scope.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::Router;
use plotina_core::schema::Entity;

use super::{html, urls, Ctx, FormData, Web, WebResult};
use crate::state::AppState;

pub struct Hit {
    pub title: String,
    pub subtitle: String,
    pub href: String,
}

pub struct Group {
    pub key: &'static str,
    pub label: String,
    pub hits: Vec<Hit>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    ctx: Ctx,
    groups: Vec<Group>,
    searched: bool,
}

async fn search(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let form = FormData::parse(raw.as_deref().unwrap_or("").as_bytes());
    let q = form.text("q").chars().take(200).collect::<String>();
    let mut ctx = web.ctx.clone();
    ctx.q = q.clone();
    let clean = plotina_core::value::clean_text(&q, 200, false)
        .ok()
        .flatten();
    let hits = match &clean {
        Some(text) => s.store.search(&web.actor, text, 20).await?,
        None => Vec::new(),
    };
    let groups = [Entity::Company, Entity::Contact, Entity::Deal, Entity::Lead]
        .iter()
        .map(|e| Group {
            key: e.plural(),
            label: ctx.t(&format!("ui-nav-{}", e.plural())),
            hits: hits
                .iter()
                .filter(|h| h.entity == *e)
                .map(|h| Hit {
                    title: if h.title.is_empty() {
                        format!("#{}", h.id)
                    } else {
                        h.title.clone()
                    },
                    subtitle: match (e, h.subtitle.as_deref()) {
                        (Entity::Lead, Some(st)) => {
                            super::fmt::option_label(ctx.lang, "status", st)
                        }
                        (Entity::Deal, Some(a)) => {
                            let (amount, cur) = a.split_once(' ').unwrap_or((a, "RUB"));
                            super::fmt::money_text(ctx.lang, amount, cur)
                        }
                        (_, sub) => sub.unwrap_or("").to_string(),
                    },
                    href: urls::card(*e, h.id),
                })
                .collect(),
        })
        .filter(|g| !g.hits.is_empty())
        .collect();
    html(&SearchPage {
        ctx,
        groups,
        searched: clean.is_some(),
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/search", get(search))
}
