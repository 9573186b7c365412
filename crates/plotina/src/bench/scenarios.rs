//! The benchmark scenarios, each over HTTP and (for reads) straight through the store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use plotina_core::filter::{CmpOp, Condition, Expr, Literal, Path, Test};
use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_store::{auth, ListParams, Store};
use serde_json::{json, Value};

type Fut = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type HttpFn = fn(Arc<Http>, Arc<Fixture>, u64) -> Fut;
type DirectFn = fn(Arc<Store>, Arc<Fixture>, u64) -> Fut;

pub struct Scenario {
    pub name: &'static str,
    pub http: Option<HttpFn>,
    pub direct: Option<DirectFn>,
}

/// Ids and values the scenarios pick from, read from the database once.
pub struct Fixture {
    pub actor: Actor,
    pub pipeline: i64,
    pub stages: Vec<i64>,
    pub open_stages: Vec<i64>,
    pub owners: Vec<i64>,
    /// Managers for the one-owner reports: owners of the base's oldest deals other than
    /// the administrator. The owners of the newest deals will not do: deals written by
    /// `create_deal` (the administrator's) soon are all of them.
    pub managers: Vec<i64>,
    pub companies: Vec<i64>,
    pub phones: Vec<String>,
    /// The last seven digits of contacts' phones, as people type them ("123-45-67").
    pub phone_tails: Vec<String>,
    /// Contacts' e-mails in the three forms people search by, in turn: the whole address,
    /// its beginning up to the `@` ("ivanov@") and its domain ("@mail.ru").
    pub emails: Vec<String>,
    /// The first six digits of companies' INNs.
    pub inn_prefixes: Vec<String>,
    pub prefixes: Vec<String>,
    pub deals: Vec<i64>,
    pub custom_filter: Option<String>,
}

/// The report parameters of the report scenarios: the whole base, as the administrator
/// sees it (the heaviest case).
fn whole_base() -> plotina_store::reports::ReportParams {
    plotina_store::reports::ReportParams::default()
}

/// One manager's deals (the owner picked by the request number), all time.
fn one_owner(fx: &Fixture, i: u64) -> plotina_store::reports::ReportParams {
    plotina_store::reports::ReportParams {
        owner: Some(pick(&fx.managers, i)),
        ..Default::default()
    }
}

/// The whole base over the last 365 days up to today.
fn last_year() -> plotina_store::reports::ReportParams {
    let today = plotina_core::value::now().date_naive();
    plotina_store::reports::ReportParams {
        period_from: Some(today - chrono::Duration::days(364)),
        period_to: Some(today),
        ..Default::default()
    }
}

fn done<T>(r: Result<T, plotina_store::StoreError>) -> Result<(), String> {
    r.map(|_| ()).map_err(|e| e.to_string())
}

fn pick<T: Clone>(items: &[T], i: u64) -> T {
    items[(i.wrapping_mul(2_654_435_761) % items.len().max(1) as u64) as usize].clone()
}

fn ids(page: &plotina_store::Page, field: &str) -> Vec<i64> {
    page.data
        .iter()
        .filter_map(|r| r.get(field).and_then(Value::as_i64))
        .collect()
}

impl Fixture {
    pub async fn discover(store: &Store) -> anyhow::Result<Fixture> {
        let admin = auth::first_admin(store.pool())
            .await?
            .ok_or_else(|| anyhow::anyhow!("no administrator"))?;
        let actor = auth::actor_for(store.pool(), admin)
            .await?
            .ok_or_else(|| anyhow::anyhow!("administrator inactive"))?;
        let err = |e: plotina_store::StoreError| anyhow::anyhow!("{e}");
        let list = |entity, filter: &str, sort: &str, limit| {
            let p = ListParams {
                filter: Some(filter.into()),
                sort: Some(sort.into()),
                limit: Some(limit),
                ..Default::default()
            };
            let (store, actor) = (store, &actor);
            async move { store.list(actor, entity, &p).await }
        };
        let pipelines = list(Entity::Pipeline, "", "position", 10)
            .await
            .map_err(err)?;
        let pipeline = *ids(&pipelines, "id")
            .first()
            .ok_or_else(|| anyhow::anyhow!("no pipelines"))?;
        let stages_page = list(
            Entity::Stage,
            &format!("pipeline_id = {pipeline}"),
            "position",
            50,
        )
        .await
        .map_err(err)?;
        let stages = ids(&stages_page, "id");
        let open_stages = stages_page
            .data
            .iter()
            .filter(|s| s["kind"] == "open")
            .filter_map(|s| s["id"].as_i64())
            .collect();
        let deals_page = list(
            Entity::Deal,
            &format!("pipeline_id = {pipeline} and stage.kind = \"open\""),
            "-updated_at",
            500,
        )
        .await
        .map_err(err)?;
        let mut owners = ids(&deals_page, "owner_id");
        owners.sort();
        owners.dedup();
        let deals = ids(&deals_page, "id");
        let oldest = list(
            Entity::Deal,
            &format!("owner_id != {}", actor.user_id),
            "id",
            500,
        )
        .await
        .map_err(err)?;
        let mut managers = ids(&oldest, "owner_id");
        managers.sort();
        managers.dedup();
        if managers.is_empty() {
            managers.clone_from(&owners);
        }
        let company_page = list(Entity::Company, "", "-updated_at", 500)
            .await
            .map_err(err)?;
        let companies = ids(&company_page, "id");
        let inn_prefixes = company_page
            .data
            .iter()
            .filter_map(|c| c["inn"].as_str())
            .filter(|inn| inn.len() >= 10)
            .map(|inn| inn[..6].to_string())
            .collect();
        let contacts = list(Entity::Contact, "phones is not null", "-updated_at", 500)
            .await
            .map_err(err)?;
        let phones = contacts
            .data
            .iter()
            .filter_map(|c| c["phones"][0].as_str())
            .map(|p| format!("8 {} {}-{}-{}", &p[2..5], &p[5..8], &p[8..10], &p[10..]))
            .filter(|p| p.len() > 12)
            .collect();
        let phone_tails = contacts
            .data
            .iter()
            .filter_map(|c| c["phones"][0].as_str())
            .filter(|p| p.len() >= 8)
            .map(|p| {
                let t = &p[p.len() - 7..];
                format!("{}-{}-{}", &t[..3], &t[3..5], &t[5..])
            })
            .collect();
        let with_emails = list(Entity::Contact, "emails is not null", "-updated_at", 500)
            .await
            .map_err(err)?;
        let emails = with_emails
            .data
            .iter()
            .filter_map(|c| c["emails"][0].as_str())
            .filter_map(|e| e.split_once('@'))
            .enumerate()
            .map(|(n, (local, domain))| match n % 3 {
                0 => format!("{local}@{domain}"),
                1 => format!("{local}@"),
                _ => format!("@{domain}"),
            })
            .collect();
        let prefixes = contacts
            .data
            .iter()
            .filter_map(|c| c["last_name"].as_str())
            .map(|n| n.chars().take(4).collect())
            .collect();
        let customs = store.custom_defs(Entity::Deal).await.map_err(err)?;
        let custom_filter = customs
            .iter()
            .find(|d| d.kind == "select" && !d.options.is_empty())
            .map(|d| format!("custom.{} = \"{}\"", d.key, d.options[0]));
        Ok(Fixture {
            actor,
            pipeline,
            stages,
            open_stages,
            owners,
            managers,
            companies,
            phones,
            phone_tails,
            emails,
            inn_prefixes,
            prefixes,
            deals,
            custom_filter,
        })
    }

    fn board_filter(&self, i: u64) -> String {
        format!(
            "pipeline_id = {} and stage_id = {} and owner_id = {}",
            self.pipeline,
            pick(&self.stages, i),
            pick(&self.owners, i / 7)
        )
    }
}

pub struct Http {
    client: reqwest::Client,
    base: String,
    token: String,
    /// `plotina_session=…` for the HTML page scenarios.
    session_cookie: String,
}

impl Http {
    pub fn new(base: String, token: String, session_cookie: String) -> anyhow::Result<Http> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Http {
            client,
            base: base.trim_end_matches('/').to_string(),
            token,
            session_cookie,
        })
    }

    /// A web page as a signed-in browser gets it (session cookie, no token).
    async fn page(&self, path: &str, query: &[(&str, String)]) -> Result<(), String> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.session_cookie)
            .header(reqwest::header::ACCEPT_ENCODING, "gzip")
            .query(query)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let _ = r.bytes().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("GET {path}: {status}"))
        }
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<(), String> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let _ = r.bytes().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("GET {path}: {status}"))
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, String> {
        let r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(v)
        } else {
            Err(format!("{path}: {status} {}", v["detail"]))
        }
    }
}

fn list_params(filter: String, sort: &str, limit: u64) -> ListParams {
    ListParams {
        filter: Some(filter),
        sort: Some(sort.into()),
        limit: Some(limit),
        ..Default::default()
    }
}

fn eq(field: &str, id: i64) -> Expr {
    Expr::Cond(Condition {
        path: Path {
            segments: vec![field.into()],
            pos: 0,
        },
        test: Test::Cmp(CmpOp::Eq, Literal::Num(id.into(), 0)),
    })
}

fn direct_list(store: Arc<Store>, fx: Arc<Fixture>, entity: Entity, params: ListParams) -> Fut {
    Box::pin(async move {
        store
            .list(&fx.actor, entity, &params)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "deals_by_stage_owner",
        http: Some(|h, fx, i| {
            Box::pin(async move {
                h.get(
                    "/api/v1/deals",
                    &[
                        ("filter", fx.board_filter(i)),
                        ("sort", "-updated_at".into()),
                        ("limit", "50".into()),
                    ],
                )
                .await
            })
        }),
        direct: Some(|s, fx, i| {
            let p = list_params(fx.board_filter(i), "-updated_at", 50);
            direct_list(s, fx, Entity::Deal, p)
        }),
    },
    Scenario {
        name: "deals_custom_filter",
        http: Some(|h, fx, _| {
            Box::pin(async move {
                let Some(f) = fx.custom_filter.clone() else {
                    return Err("no select custom field on deals".into());
                };
                h.get("/api/v1/deals", &[("filter", f), ("limit", "50".into())])
                    .await
            })
        }),
        direct: Some(|s, fx, _| {
            let Some(f) = fx.custom_filter.clone() else {
                return Box::pin(async { Err("no select custom field on deals".to_string()) });
            };
            direct_list(s, fx, Entity::Deal, list_params(f, "-updated_at", 50))
        }),
    },
    Scenario {
        name: "kanban",
        http: Some(|h, fx, _| {
            Box::pin(async move {
                h.get(
                    "/api/v1/deals/board",
                    &[("pipeline", fx.pipeline.to_string())],
                )
                .await
            })
        }),
        direct: Some(|s, fx, _| {
            Box::pin(async move {
                let base = ListParams {
                    and: vec![eq("pipeline_id", fx.pipeline)],
                    ..Default::default()
                };
                // The store's part of the API's board: pipeline, stages, totals, cards.
                let cards = Some(plotina_store::board::CARD_FIELDS);
                s.pipeline_board(&fx.actor, fx.pipeline, &base, 20, cards)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }),
    },
    Scenario {
        name: "company_card",
        http: Some(|h, fx, i| {
            Box::pin(async move {
                let id = pick(&fx.companies, i);
                h.get(&format!("/api/v1/companies/{id}"), &[]).await?;
                h.get(
                    "/api/v1/activities",
                    &[
                        ("filter", format!("company_id = {id}")),
                        ("sort", "-created_at".into()),
                        ("limit", "50".into()),
                    ],
                )
                .await
            })
        }),
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                let id = pick(&fx.companies, i);
                s.get(&fx.actor, Entity::Company, id)
                    .await
                    .map_err(|e| e.to_string())?;
                let p = ListParams {
                    sort: Some("-created_at".into()),
                    limit: Some(50),
                    and: vec![eq("company_id", id)],
                    ..Default::default()
                };
                s.list(&fx.actor, Entity::Activity, &p)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }),
    },
    Scenario {
        name: "search_phone",
        http: Some(|h, fx, i| {
            Box::pin(async move { h.get("/api/v1/search", &[("q", pick(&fx.phones, i))]).await })
        }),
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                s.search(&fx.actor, &pick(&fx.phones, i), 10)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }),
    },
    Scenario {
        name: "search_phone_tail",
        http: Some(|h, fx, i| {
            Box::pin(async move {
                h.get("/api/v1/search", &[("q", pick(&fx.phone_tails, i))])
                    .await
            })
        }),
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                s.search(&fx.actor, &pick(&fx.phone_tails, i), 10)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }),
    },
    Scenario {
        name: "search_email",
        http: Some(|h, fx, i| {
            Box::pin(async move { h.get("/api/v1/search", &[("q", pick(&fx.emails, i))]).await })
        }),
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                s.search(&fx.actor, &pick(&fx.emails, i), 10)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }),
    },
    Scenario {
        name: "search_inn",
        http: Some(|h, fx, i| {
            Box::pin(async move {
                h.get("/api/v1/search", &[("q", pick(&fx.inn_prefixes, i))])
                    .await
            })
        }),
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                s.search(&fx.actor, &pick(&fx.inn_prefixes, i), 10)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }),
    },
    Scenario {
        name: "search_name_prefix",
        http: Some(|h, fx, i| {
            Box::pin(async move {
                h.get("/api/v1/search", &[("q", pick(&fx.prefixes, i))])
                    .await
            })
        }),
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                s.search(&fx.actor, &pick(&fx.prefixes, i), 10)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }),
    },
    Scenario {
        name: "page_deal_list",
        http: Some(|h, _, _| Box::pin(async move { h.page("/deals", &[]).await })),
        direct: None,
    },
    Scenario {
        name: "page_kanban",
        http: Some(|h, fx, _| {
            Box::pin(async move {
                h.page("/deals/board", &[("pipeline", fx.pipeline.to_string())])
                    .await
            })
        }),
        direct: None,
    },
    Scenario {
        name: "page_company_card",
        http: Some(|h, fx, i| {
            Box::pin(async move {
                h.page(&format!("/companies/{}", pick(&fx.companies, i)), &[])
                    .await
            })
        }),
        direct: None,
    },
    Scenario {
        name: "create_deal",
        http: Some(|h, fx, i| {
            Box::pin(async move {
                let body = json!({"title": format!("Бенчмарк {i}"), "pipeline_id": fx.pipeline, "amount": "125000", "company_id": pick(&fx.companies, i)});
                h.send(reqwest::Method::POST, "/api/v1/deals", body)
                    .await
                    .map(|_| ())
            })
        }),
        // The same insert through the store: what the deal's indexes and triggers cost.
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                let body = json!({"title": format!("Бенчмарк {i}"), "pipeline_id": fx.pipeline, "amount": "125000", "company_id": pick(&fx.companies, i)});
                let body = body.as_object().cloned().unwrap_or_default();
                done(s.create(&fx.actor, Entity::Deal, &body, None).await)
            })
        }),
    },
    Scenario {
        name: "move_deal",
        http: Some(|h, fx, i| {
            Box::pin(async move {
                let id = pick(&fx.deals, i);
                // The first two open stages: moving there is always allowed, also in a
                // pipeline that forbids skipping (back, or forward by one from the first),
                // so the scenario measures moves, not refusals.
                let stage = pick(&fx.open_stages[..fx.open_stages.len().min(2)], i / 3);
                h.send(
                    reqwest::Method::POST,
                    &format!("/api/v1/deals/{id}/move"),
                    json!({"stage_id": stage}),
                )
                .await
                .map(|_| ())
            })
        }),
        direct: None,
    },
    // The notebook (data: `plotina notebook bench-data` gives the administrator 10,000
    // open items and a deal-move gate they pass).
    Scenario {
        name: "notebook_open_items",
        http: Some(|h, _, _| {
            Box::pin(async move { h.get("/api/v1/notebook", &[("limit", "100".into())]).await })
        }),
        direct: Some(|s, fx, _| {
            Box::pin(async move {
                s.notebook(&fx.actor, None, 100)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }),
    },
    Scenario {
        name: "gate_check",
        http: None,
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                let deal = Some(("deal", pick(&fx.deals, i)));
                s.check_gate(&fx.actor, plotina_store::gates::GateAction::DealMove, deal)
                    .await
                    .map_err(|e| e.to_string())
            })
        }),
    },
    Scenario {
        name: "move_deal_20_rules",
        http: None,
        direct: Some(|s, fx, i| Box::pin(super::automation::move_with_rules(s, fx, i))),
    },
    Scenario {
        name: "report_funnel",
        http: Some(|h, fx, _| {
            Box::pin(async move {
                h.get(
                    "/api/v1/reports/funnel",
                    &[("pipeline", fx.pipeline.to_string())],
                )
                .await
            })
        }),
        direct: Some(|s, fx, _| {
            Box::pin(async move {
                let p = plotina_store::reports::ReportParams {
                    pipelines: vec![fx.pipeline],
                    ..Default::default()
                };
                s.report_funnel(&fx.actor, &p)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }),
    },
    Scenario {
        name: "report_funnel_one_owner",
        http: Some(|h, fx, i| {
            Box::pin(async move {
                h.get(
                    "/api/v1/reports/funnel",
                    &[
                        ("pipeline", fx.pipeline.to_string()),
                        ("owner", pick(&fx.managers, i).to_string()),
                    ],
                )
                .await
            })
        }),
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                let p = plotina_store::reports::ReportParams {
                    pipelines: vec![fx.pipeline],
                    ..one_owner(&fx, i)
                };
                done(s.report_funnel(&fx.actor, &p).await)
            })
        }),
    },
    Scenario {
        name: "report_funnel_year",
        http: None,
        direct: Some(|s, fx, _| {
            Box::pin(async move {
                let p = plotina_store::reports::ReportParams {
                    pipelines: vec![fx.pipeline],
                    ..last_year()
                };
                done(s.report_funnel(&fx.actor, &p).await)
            })
        }),
    },
    Scenario {
        name: "report_dam",
        http: Some(|h, _, _| Box::pin(async move { h.get("/api/v1/reports/dam", &[]).await })),
        direct: Some(|s, fx, _| {
            Box::pin(async move {
                let p = plotina_store::reports::ReportParams::default();
                s.report_dam(&fx.actor, &p, 6, None)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }),
    },
    Scenario {
        name: "report_abc_xyz",
        http: Some(|h, _, _| Box::pin(async move { h.get("/api/v1/reports/abc-xyz", &[]).await })),
        direct: Some(|s, fx, _| {
            Box::pin(async move {
                let t = plotina_store::reports::abc_xyz::Thresholds::default();
                done(s.report_abc_xyz(&fx.actor, &whole_base(), t).await)
            })
        }),
    },
    Scenario {
        name: "report_velocity",
        http: None,
        direct: Some(|s, fx, _| {
            Box::pin(async move { done(s.report_velocity(&fx.actor, &whole_base(), 14).await) })
        }),
    },
    Scenario {
        name: "report_velocity_one_owner",
        http: None,
        direct: Some(|s, fx, i| {
            Box::pin(
                async move { done(s.report_velocity(&fx.actor, &one_owner(&fx, i), 14).await) },
            )
        }),
    },
    Scenario {
        name: "report_velocity_year",
        http: None,
        direct: Some(|s, fx, _| {
            Box::pin(async move { done(s.report_velocity(&fx.actor, &last_year(), 14).await) })
        }),
    },
    Scenario {
        name: "report_forecast",
        http: None,
        direct: Some(|s, fx, _| {
            Box::pin(async move { done(s.report_forecast(&fx.actor, &whole_base()).await) })
        }),
    },
    Scenario {
        name: "report_managers",
        http: None,
        direct: Some(|s, fx, _| {
            Box::pin(async move { done(s.report_rating(&fx.actor, &whole_base()).await) })
        }),
    },
    Scenario {
        name: "report_by_industry",
        http: None,
        direct: Some(|s, fx, _| {
            Box::pin(async move { done(s.report_by_industry(&fx.actor, &whole_base()).await) })
        }),
    },
    Scenario {
        name: "report_overdue_children",
        http: None,
        direct: Some(|s, fx, _| {
            Box::pin(async move { done(s.report_overdue_children(&fx.actor, &whole_base()).await) })
        }),
    },
    Scenario {
        name: "report_dashboard",
        http: None,
        direct: Some(|s, fx, _| {
            Box::pin(async move {
                let now = plotina_core::value::now();
                done(s.report_dashboard(&fx.actor, &whole_base(), now).await)
            })
        }),
    },
    Scenario {
        name: "report_dashboard_one_owner",
        http: None,
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                let now = plotina_core::value::now();
                done(s.report_dashboard(&fx.actor, &one_owner(&fx, i), now).await)
            })
        }),
    },
    Scenario {
        name: "report_dashboard_year",
        http: None,
        direct: Some(|s, fx, _| {
            Box::pin(async move {
                let now = plotina_core::value::now();
                done(s.report_dashboard(&fx.actor, &last_year(), now).await)
            })
        }),
    },
    Scenario {
        name: "report_sources",
        http: Some(|h, _, _| Box::pin(async move { h.get("/api/v1/reports/sources", &[]).await })),
        direct: Some(|s, fx, _| {
            Box::pin(async move {
                let p = plotina_store::reports::ReportParams::default();
                s.report_sources(&fx.actor, &p)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }),
    },
    // The same reports for one manager (owner = one user, some 5,000 deals on the
    // medium set), as a manager opens them: the target is 50 ms.
    Scenario {
        name: "report_managers_one_owner",
        http: None,
        direct: Some(|s, fx, i| {
            Box::pin(async move { done(s.report_rating(&fx.actor, &one_owner(&fx, i)).await) })
        }),
    },
    Scenario {
        name: "report_forecast_one_owner",
        http: None,
        direct: Some(|s, fx, i| {
            Box::pin(async move { done(s.report_forecast(&fx.actor, &one_owner(&fx, i)).await) })
        }),
    },
    Scenario {
        name: "report_sources_one_owner",
        http: None,
        direct: Some(|s, fx, i| {
            Box::pin(async move { done(s.report_sources(&fx.actor, &one_owner(&fx, i)).await) })
        }),
    },
    Scenario {
        name: "report_by_industry_one_owner",
        http: None,
        direct: Some(|s, fx, i| {
            Box::pin(async move { done(s.report_by_industry(&fx.actor, &one_owner(&fx, i)).await) })
        }),
    },
    Scenario {
        name: "report_dam_one_owner",
        http: None,
        direct: Some(|s, fx, i| {
            Box::pin(
                async move { done(s.report_dam(&fx.actor, &one_owner(&fx, i), 6, None).await) },
            )
        }),
    },
    Scenario {
        name: "report_abc_xyz_one_owner",
        http: None,
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                let t = plotina_store::reports::abc_xyz::Thresholds::default();
                done(s.report_abc_xyz(&fx.actor, &one_owner(&fx, i), t).await)
            })
        }),
    },
    Scenario {
        name: "report_overdue_children_one_owner",
        http: None,
        direct: Some(|s, fx, i| {
            Box::pin(async move {
                done(
                    s.report_overdue_children(&fx.actor, &one_owner(&fx, i))
                        .await,
                )
            })
        }),
    },
];
