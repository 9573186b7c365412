//! Converting a lead: a new or an existing company and contact (picked by search), and
//! a deal in a chosen pipeline, in one transaction of the store.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use plotina_core::schema::Entity;
use plotina_store::sales::ConvertRequest;
use plotina_store::{Record, StoreError};
use serde_json::{json, Map, Value as Json};

use super::fields::{FormErrors, Opt};
use super::forms::parse_id;
use super::lookups::{id_of, str_of, Lookups, Titles};
use super::{html_status, redirect, urls, Ctx, FormData, Web, WebResult};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "convert.html")]
struct ConvertPage {
    ctx: Ctx,
    id: i64,
    title: String,
    v: BTreeMap<&'static str, String>,
    pipelines: Vec<Opt>,
    company_label: String,
    contact_label: String,
    errors: BTreeMap<String, String>,
    general: Vec<String>,
}

impl ConvertPage {
    fn val(&self, k: &str) -> &str {
        self.v.get(k).map(String::as_str).unwrap_or("")
    }
    fn is(&self, k: &str, value: &str) -> bool {
        self.val(k) == value
    }
    fn err(&self, k: &str) -> &str {
        self.errors.get(k).map(String::as_str).unwrap_or("")
    }
}

const KEYS: &[&str] = &[
    "company_mode",
    "company_name",
    "company_inn",
    "company_id",
    "contact_mode",
    "last_name",
    "first_name",
    "middle_name",
    "contact_id",
    "create_deal",
    "pipeline_id",
    "deal_title",
];

fn from_lead(lead: &Record, lk: &Lookups) -> BTreeMap<&'static str, String> {
    let mut v = BTreeMap::new();
    let words: Vec<&str> = str_of(lead, "contact_name").split_whitespace().collect();
    let (last, first, middle) = match words.as_slice() {
        [] => ("", "", String::new()),
        [one] => ("", *one, String::new()),
        [l, f, rest @ ..] => (*l, *f, rest.join(" ")),
    };
    let company = str_of(lead, "company_name");
    v.insert("company_mode", "new".to_string());
    v.insert("company_name", company.to_string());
    v.insert("company_inn", str_of(lead, "inn").to_string());
    v.insert("contact_mode", "new".to_string());
    v.insert("last_name", last.to_string());
    v.insert("first_name", first.to_string());
    v.insert("middle_name", middle);
    v.insert("create_deal", "true".into());
    v.insert(
        "pipeline_id",
        lk.pipelines
            .iter()
            .find(|p| p.active)
            .map(|p| p.id.to_string())
            .unwrap_or_default(),
    );
    v.insert("deal_title", str_of(lead, "title").to_string());
    v
}

fn from_form(form: &FormData) -> BTreeMap<&'static str, String> {
    KEYS.iter()
        .map(|k| (*k, form.text(k).to_string()))
        .collect()
}

async fn render(
    s: &AppState,
    web: &Web,
    lead: &Record,
    v: BTreeMap<&'static str, String>,
    errors: FormErrors,
) -> WebResult {
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let mut wanted = BTreeMap::new();
    for (k, e) in [
        ("company_id", Entity::Company),
        ("contact_id", Entity::Contact),
    ] {
        if let Some(id) = v.get(k).and_then(|x| x.parse::<i64>().ok()) {
            wanted
                .entry(e)
                .or_insert_with(std::collections::BTreeSet::new)
                .insert(id);
        }
    }
    let titles = Titles::load(&s.store, &web.actor, &wanted).await?;
    let label = |k: &str, e: Entity| {
        v.get(k)
            .and_then(|x| x.parse::<i64>().ok())
            .and_then(|id| titles.get(e, id))
            .unwrap_or("")
            .to_string()
    };
    let page = ConvertPage {
        id: id_of(lead),
        title: str_of(lead, "title").to_string(),
        pipelines: lk
            .pipelines
            .iter()
            .filter(|p| p.active)
            .map(|p| Opt {
                value: p.id.to_string(),
                label: p.name.clone(),
                selected: v.get("pipeline_id") == Some(&p.id.to_string()),
                ..Default::default()
            })
            .collect(),
        company_label: label("company_id", Entity::Company),
        contact_label: label("contact_id", Entity::Contact),
        errors: errors.fields,
        general: errors.general,
        v,
        ctx: web.ctx.clone().with_section("leads"),
    };
    let status = if page.errors.is_empty() && page.general.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    html_status(status, &page)
}

async fn show(State(s): State<AppState>, web: Web, Path(id): Path<String>) -> WebResult {
    let lead = s
        .store
        .get(&web.actor, Entity::Lead, parse_id(&id)?)
        .await?;
    let lk = Lookups::load(&s.store, &web.actor).await?;
    render(
        &s,
        &web,
        &lead,
        from_lead(&lead, &lk),
        FormErrors::default(),
    )
    .await
}

fn request(form: &FormData) -> ConvertRequest {
    let mut req = ConvertRequest::default();
    let obj = |pairs: &[(&str, &str)]| -> Map<String, Json> {
        pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k.to_string(), json!(v.trim())))
            .collect()
    };
    match form.text("company_mode") {
        "existing" => req.company_id = Some(form.text("company_id").parse().unwrap_or(0)),
        "none" => req.create_company = Some(false),
        "new" => {
            req.company = Some(obj(&[
                ("name", form.text("company_name")),
                ("inn", form.text("company_inn")),
            ]))
        }
        _ => {
            req.company = Some(obj(&[
                ("name", form.text("company_name")),
                ("inn", form.text("company_inn")),
            ]))
        }
    }
    match form.text("contact_mode") {
        "existing" => req.contact_id = Some(form.text("contact_id").parse().unwrap_or(0)),
        "none" => req.create_contact = Some(false),
        _ => {
            req.contact = Some(obj(&[
                ("last_name", form.text("last_name")),
                ("first_name", form.text("first_name")),
                ("middle_name", form.text("middle_name")),
            ]))
        }
    }
    if form.has("create_deal") {
        req.deal = Some(obj(&[
            ("pipeline_id", form.text("pipeline_id")),
            ("title", form.text("deal_title")),
        ]));
    } else {
        req.create_deal = Some(false);
    }
    req
}

async fn convert(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    let id = parse_id(&id)?;
    let form = web.form(&body)?;
    let req = request(&form);
    match s.store.convert_lead(&web.actor, id, req).await {
        Ok(out) => Ok(redirect(&match out.deal {
            Some(d) => urls::card(Entity::Deal, id_of(&d)),
            None => urls::card(Entity::Lead, id),
        })),
        Err(StoreError::Domain(d @ plotina_core::DomainError::Locked(_))) => Err(d.into()),
        Err(StoreError::Domain(d)) => {
            let lead = s.store.get(&web.actor, Entity::Lead, id).await?;
            let shown: Vec<String> = [
                "company.name",
                "company.inn",
                "company_id",
                "contact.last_name",
                "contact.first_name",
                "contact_id",
                "deal.pipeline_id",
                "deal.title",
            ]
            .iter()
            .map(|x| x.to_string())
            .collect();
            let errors = FormErrors::from_domain(&web.ctx, Entity::Lead, &d, &shown);
            render(&s, &web, &lead, from_form(&form), errors).await
        }
        Err(e) => Err(e.into()),
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/leads/{id}/convert", get(show).post(convert))
}
