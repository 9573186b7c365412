//! The demo organisation: roles, departments, users and pipelines, created through the
//! record engine (and `bootstrap`) so that every rule, lookup and history row applies.

use anyhow::Context;
use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use sea_query::{Alias, Query};
use serde_json::{json, Map, Value as Json};

use super::clock::{Rng, Weighted};
use super::names::{self, person};
use crate::filter_sql::col;
use crate::{auth, bootstrap, Store};

/// A pipeline as the generators need it: stage ids in travel order.
#[derive(Debug, Clone)]
pub struct PipelineInfo {
    pub id: i64,
    /// Open stages in order: (id, probability).
    pub open: Vec<(i64, i64)>,
    pub won: (i64, i64),
    pub lost: (i64, i64),
    pub lost_reasons: &'static [&'static str],
}

/// Who sells, rents, carries and supports, with weights that make some people busier.
#[derive(Debug, Clone)]
pub struct Org {
    pub admin_id: i64,
    pub admin_login: String,
    /// Regional sales teams: centre, north-west, Urals, Siberia.
    pub regional: [Weighted<i64>; 4],
    pub key_accounts: Weighted<i64>,
    pub rental: Weighted<i64>,
    pub logistics: Weighted<i64>,
    pub support: Weighted<i64>,
    /// How well each seller closes (1.0 is average); lower means fewer lost deals.
    pub skill: Vec<(i64, f64)>,
    pub sales: PipelineInfo,
    pub rent: PipelineInfo,
    pub logistics_pipeline: PipelineInfo,
    pub users: u64,
    pub departments: u64,
}

impl Org {
    pub fn skill(&self, user: i64) -> f64 {
        self.skill
            .iter()
            .find(|(u, _)| *u == user)
            .map_or(1.0, |(_, s)| *s)
    }
}

fn body(v: Json) -> Map<String, Json> {
    v.as_object().cloned().unwrap_or_default()
}

fn id_of(rec: &Map<String, Json>) -> i64 {
    rec.get("id").and_then(Json::as_i64).unwrap_or_default()
}

/// What a staff member does; decides role, team and weight.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Job {
    Head,
    Seller,
    Logistician,
    Support,
    Marketing,
}

struct DeptPlan {
    name: &'static str,
    parent: Option<usize>,
    /// Team index: 0..4 regional, 4 key accounts, 5 rental, 6 logistics, 7 support, 8 other.
    team: usize,
    /// The head first, then the staff.
    jobs: Vec<Job>,
}

fn dept(
    name: &'static str,
    parent: Option<usize>,
    team: usize,
    head: Job,
    staff: usize,
    job: Job,
) -> DeptPlan {
    let jobs = std::iter::once(head)
        .chain(std::iter::repeat_n(job, staff))
        .collect();
    DeptPlan {
        name,
        parent,
        team,
        jobs,
    }
}

fn small_plan() -> Vec<DeptPlan> {
    use Job::*;
    vec![
        DeptPlan {
            name: "Отдел продаж",
            parent: None,
            team: 0,
            jobs: vec![Head, Seller, Seller, Support],
        },
        DeptPlan {
            name: "Логистика",
            parent: None,
            team: 6,
            jobs: vec![Logistician],
        },
    ]
}

fn full_plan() -> Vec<DeptPlan> {
    use Job::*;
    vec![
        dept("Отдел продаж", None, 8, Head, 0, Seller),
        dept("Продажи: Москва и центр", Some(0), 0, Head, 41, Seller),
        dept("Продажи: Северо-Запад", Some(0), 1, Head, 33, Seller),
        dept("Продажи: Урал", Some(0), 2, Head, 24, Seller),
        dept(
            "Продажи: Сибирь и Дальний Восток",
            Some(0),
            3,
            Head,
            19,
            Seller,
        ),
        dept("Ключевые клиенты", Some(0), 4, Head, 11, Seller),
        dept("Аренда техники", None, 5, Head, 17, Seller),
        dept("Логистика", None, 6, Head, 23, Logistician),
        dept("Поддержка клиентов", None, 7, Support, 15, Support),
        dept("Маркетинг", None, 8, Marketing, 7, Marketing),
    ]
}

fn role_code(job: Job) -> &'static str {
    match job {
        Job::Head => "head_of_sales",
        Job::Seller | Job::Logistician => "manager",
        Job::Support => "support",
        Job::Marketing => "marketing",
    }
}

async fn login_taken(store: &Store, login: &str) -> anyhow::Result<bool> {
    Ok(auth::user_id_by_login(store.pool(), login).await?.is_some())
}

/// Creates the organisation. `small`: five people in two departments; otherwise 200
/// people in a tree of ten departments.
pub async fn create(
    store: &Store,
    small: bool,
    rng: &mut Rng,
    password: &str,
) -> anyhow::Result<Org> {
    let pool = store.pool();
    bootstrap::seed_roles(pool).await?;
    // Never touch an existing account: if `admin` exists, the demo brings its own.
    let admin_login = if login_taken(store, "admin").await? {
        "demo-admin"
    } else {
        "admin"
    };
    anyhow::ensure!(
        !login_taken(store, admin_login).await?,
        "users `admin` and `demo-admin` already exist"
    );
    let admin_id = bootstrap::create_user(
        store,
        None,
        admin_login,
        "Администратор",
        "admin",
        password,
        Map::new(),
    )
    .await?;
    let admin = auth::actor_for(pool, admin_id)
        .await?
        .context("the demo administrator cannot act")?;

    let plan = if small { small_plan() } else { full_plan() };
    let mut dept_ids: Vec<i64> = Vec::new();
    for d in &plan {
        let mut b = json!({"name": d.name});
        if let Some(p) = d.parent {
            b["parent_id"] = json!(dept_ids[p]);
        }
        let (rec, _) = store
            .create(&admin, Entity::Department, &body(b), None)
            .await?;
        dept_ids.push(id_of(&rec));
    }

    let mut teams: Vec<Vec<(i64, f64)>> = vec![Vec::new(); 9];
    let mut skill = Vec::new();
    let mut logins = std::collections::HashSet::new();
    let mut users = 0u64;
    for (di, d) in plan.iter().enumerate() {
        for (i, job) in d.jobs.iter().copied().enumerate() {
            let p = person(rng);
            let mut login = p.login();
            let mut n = 1;
            while !logins.insert(login.clone()) || login_taken(store, &login).await? {
                n += 1;
                login = format!("{}{n}", p.login());
            }
            let b = json!({
                "login": login,
                "name": format!("{} {}", p.first, p.last),
                "email": format!("{login}@plotina-demo.ru"),
                "phone": format!("+7 {} {:03}-{:02}-{:02}", rng.pick(&["903", "915", "916", "925", "926", "977", "985", "999"]), rng.range(0, 1000), rng.range(0, 100), rng.range(0, 100)),
                "department_id": dept_ids[di],
                "role_id": bootstrap::role_id(pool, role_code(job)).await?.with_context(|| format!("role {} is missing", role_code(job)))?,
            });
            let (rec, _) = store.create(&admin, Entity::User, &body(b), None).await?;
            let id = id_of(&rec);
            users += 1;
            if i == 0 {
                let head = json!({"head_id": id});
                store
                    .update(&admin, Entity::Department, dept_ids[di], &body(head), None)
                    .await?;
            }
            // A head sells a little; sellers differ in how busy and how good they are.
            let weight = match job {
                Job::Head => 0.3,
                _ => 1.0 / (1.0 + rng.unit() * 2.0),
            };
            let team = match job {
                Job::Support => 7,
                Job::Marketing => 8,
                _ => d.team,
            };
            teams[team].push((id, weight));
            if matches!(job, Job::Seller | Job::Head) {
                skill.push((id, 0.7 + rng.unit() * 0.6));
            }
        }
    }
    set_passwords(store, admin_id, password).await?;

    let team = |i: usize| Weighted::new(teams[i].iter().copied());
    // In the small company one sales team does everything.
    let sellers = if small {
        team(0)
    } else {
        Weighted::new(teams[..5].iter().flatten().copied())
    };
    let or_sellers = |w: Weighted<i64>| if w.is_empty() { sellers.clone() } else { w };
    let regional = [
        or_sellers(team(0)),
        or_sellers(team(1)),
        or_sellers(team(2)),
        or_sellers(team(3)),
    ];
    let sales_dept = dept_ids[0];
    let rental_dept = plan
        .iter()
        .position(|d| d.team == 5)
        .map_or(sales_dept, |i| dept_ids[i]);
    let logistics_dept = plan.iter().position(|d| d.team == 6).map(|i| dept_ids[i]);
    let (sales, rent, logistics_pipeline) =
        pipelines(store, &admin, sales_dept, rental_dept, logistics_dept).await?;
    deal_custom_fields(store, &admin).await?;
    Ok(Org {
        admin_id,
        admin_login: admin_login.to_string(),
        regional,
        key_accounts: or_sellers(team(4)),
        rental: or_sellers(team(5)),
        logistics: or_sellers(team(6)),
        support: team(7),
        skill,
        sales,
        rent,
        logistics_pipeline,
        users: users + 1,
        departments: plan.len() as u64,
    })
}

/// Every demo user gets the administrator's password (one hash, one statement: hashing
/// 200 passwords one by one would cost seconds for nothing).
async fn set_passwords(store: &Store, admin_id: i64, password: &str) -> anyhow::Result<()> {
    let hash = auth::hash_password(password)?;
    let mut tx = store.pool().begin_write().await?;
    tx.execute(
        &Query::update()
            .table(Alias::new("users"))
            .value(Alias::new("password_hash"), hash)
            .and_where(col("password_hash").is_null())
            .and_where(col("created_by").eq(admin_id))
            .to_owned(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn pipeline(
    store: &Store,
    admin: &Actor,
    spec: Json,
    stages: &[(&str, &str, &str, i64, Option<i64>)],
    lost_reasons: &'static [&'static str],
) -> anyhow::Result<PipelineInfo> {
    let mut spec = spec;
    spec["lost_reasons"] = json!(lost_reasons);
    let (p, _) = store
        .create(admin, Entity::Pipeline, &body(spec), None)
        .await?;
    let pid = id_of(&p);
    let mut info = PipelineInfo {
        id: pid,
        open: Vec::new(),
        won: (0, 0),
        lost: (0, 0),
        lost_reasons,
    };
    for (i, (name, code, kind, prob, rotten)) in stages.iter().enumerate() {
        let b = json!({"pipeline_id": pid, "name": name, "code": code, "kind": kind, "position": i, "probability": prob, "rotten_days": rotten});
        let (s, _) = store.create(admin, Entity::Stage, &body(b), None).await?;
        let st = (id_of(&s), *prob);
        match *kind {
            "won" => info.won = st,
            "lost" => info.lost = st,
            _ => info.open.push(st),
        }
    }
    Ok(info)
}

/// A select custom field on deals: what lists and reports filter on in real rollouts
/// (and what the benchmark's custom-field filter needs).
async fn deal_custom_fields(store: &Store, admin: &Actor) -> anyhow::Result<()> {
    let def = json!({"entity": "deal", "key": PAYMENT_TERMS_KEY, "label": "Условия оплаты", "label_en": "Payment terms", "kind": "select", "options": names::PAYMENT_TERMS, "position": 10});
    store
        .create(admin, Entity::CustomField, &body(def), None)
        .await?;
    Ok(())
}

/// The key of the demo's payment-terms field on deals.
pub const PAYMENT_TERMS_KEY: &str = "payment_terms";

async fn pipelines(
    store: &Store,
    admin: &Actor,
    sales_dept: i64,
    rental_dept: i64,
    logistics_dept: Option<i64>,
) -> anyhow::Result<(PipelineInfo, PipelineInfo, PipelineInfo)> {
    let sales = pipeline(
        store,
        admin,
        json!({"name": "Продажи: под ключ", "code": "turnkey", "department_id": sales_dept, "forbid_skip": true, "position": 10}),
        &[
            ("Новая", "new", "open", 10, Some(7)),
            ("Квалификация", "qualification", "open", 20, Some(10)),
            ("Расчёт", "estimate", "open", 40, Some(14)),
            ("КП отправлено", "proposal", "open", 60, Some(14)),
            ("Договор", "contract", "open", 80, Some(21)),
            ("Успешно", "won", "won", 100, None),
            ("Проиграна", "lost", "lost", 0, None),
        ],
        names::SALES_LOST,
    )
    .await?;
    let rent = pipeline(
        store,
        admin,
        json!({"name": "Аренда", "code": "rental", "department_id": rental_dept, "forbid_skip": false, "position": 20}),
        &[
            ("Заявка", "request", "open", 10, Some(5)),
            ("Подбор техники", "matching", "open", 30, Some(7)),
            ("Договор аренды", "contract", "open", 70, Some(10)),
            ("В аренде", "rented", "open", 90, None),
            ("Завершена", "done", "won", 100, None),
            ("Отказ", "refused", "lost", 0, None),
        ],
        names::RENTAL_LOST,
    )
    .await?;
    let mut spec = json!({"name": "Логистика: оценка", "code": "logistics", "forbid_skip": false, "position": 30});
    if let Some(d) = logistics_dept {
        spec["department_id"] = json!(d);
    }
    let logistics = pipeline(
        store,
        admin,
        spec,
        &[
            ("Новая", "new", "open", 10, Some(3)),
            ("Расчёт", "estimate", "open", 40, Some(5)),
            ("Согласование", "approval", "open", 70, Some(5)),
            ("Оценка готова", "ready", "won", 100, None),
            ("Отменена", "cancelled", "lost", 0, None),
        ],
        names::LOGISTICS_LOST,
    )
    .await?;
    Ok((sales, rent, logistics))
}
