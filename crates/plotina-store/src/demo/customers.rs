//! Companies and their contacts: Russian legal names, valid INNs and KPPs, regions with
//! matching addresses and phone codes, people with ФИО and positions.

use std::collections::HashMap;

use plotina_core::schema::Entity;
use plotina_core::types::{Inn, Phone};
use serde_json::{json, Value as Json};

use super::activities::{self, Thread};
use super::clock::{days, Rng};
use super::names::{self, person, Region, REGIONS};
use super::writer::{blank, stamp};
use super::Ctx;

/// What later phases need to know about a company.
#[derive(Debug, Clone)]
pub struct CompanyInfo {
    pub id: i64,
    pub name: String,
    pub owner: i64,
    /// Creation time in working seconds.
    pub created: i64,
    pub private: bool,
    pub industry: u8,
    pub first_contact: i64,
    pub contacts: u8,
}

/// Account tier by position: every 25th company is a key account of the key-accounts
/// team, every 5th a large customer; the deal generator favours both.
#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` needs Rust 1.87; the MSRV is 1.85
pub fn tier(index: usize) -> u8 {
    if index % 25 == 0 {
        2
    } else if index % 5 == 0 {
        1
    } else {
        0
    }
}

/// A bijection of `0..m` (for unique INNs and phone numbers): `a` is odd and not a
/// multiple of 5, hence coprime with every `m = 2^x·5^y`.
fn scramble(i: u64, m: u64) -> u64 {
    (i.wrapping_mul(1_234_567).wrapping_add(7_654_321)) % m
}

/// Validity of landline prefixes, checked once per prefix with the real parser.
#[derive(Default)]
pub struct PhoneCheck(HashMap<String, bool>);

impl PhoneCheck {
    /// `+7` + area code + subscriber digits (ten national digits), if it is a valid number.
    pub fn landline(&mut self, area: &str, serial: u64) -> Option<String> {
        let width = 10 - area.len();
        let first = 2 + serial % 7; // subscriber numbers start with 2..8
        let rest = serial % 10u64.pow(width as u32 - 1);
        let national = format!("{area}{first}{rest:0w$}", w = width - 1);
        let key = national[..area.len() + 2].to_string();
        let ok = *self.0.entry(key).or_insert_with(|| {
            Phone::parse(&format!("+7{national}"))
                .is_ok_and(|p| p.as_str() == format!("+7{national}"))
        });
        ok.then(|| format!("+7{national}"))
    }
}

/// A mobile number unique to `serial` (below 10^9).
pub fn mobile(serial: u64) -> String {
    format!("+79{:09}", scramble(serial, 1_000_000_000))
}

/// A domain for the company, unique within the run (`vektor-stroy.ru`, `vektor-stroy2.ru`).
fn domain_of(short: &str, taken: &mut HashMap<String, u32>) -> String {
    let mut base = String::new();
    for c in names::translit(short).chars() {
        if c.is_ascii_alphanumeric() || (c == '-' && !base.ends_with('-') && !base.is_empty()) {
            base.push(c);
        }
    }
    let base = base.trim_end_matches('-').to_string();
    let base = if base.is_empty() {
        "company".to_string()
    } else {
        base
    };
    let n = taken.entry(base.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        format!("{base}.ru")
    } else {
        format!("{base}{n}.ru")
    }
}

fn short_name(rng: &mut Rng) -> String {
    let base = match rng.weighted(&[40, 30, 15, 5, 10]) {
        0 => format!(
            "{}-{}",
            rng.pick(names::COMPANY_ROOTS),
            rng.pick(names::COMPANY_SUFFIXES)
        ),
        1 => format!(
            "{}{}",
            rng.pick(names::COMPANY_PREFIXES),
            rng.pick(names::COMPANY_ENDINGS)
        ),
        2 => rng.pick(names::COMPANY_PHRASES).to_string(),
        3 => format!(
            "{} {}",
            rng.pick(names::COMPANY_ROOTS),
            rng.pick(names::COMPANY_SUFFIXES)
        ),
        _ => format!("Торговый дом {}", rng.pick(names::COMPANY_ROOTS)),
    };
    if rng.chance(0.3) {
        format!("{base}{}", rng.pick(names::COMPANY_QUALIFIERS))
    } else {
        base
    }
}

fn address(rng: &mut Rng, region: &Region) -> String {
    let postcode = format!(
        "{}{:0w$}",
        region.postcode,
        rng.range(0, 10i64.pow(6 - region.postcode.len() as u32)),
        w = 6 - region.postcode.len()
    );
    let mut s = format!(
        "{postcode}, {}, {}, д. {}",
        region.city,
        rng.pick(names::STREETS),
        rng.range(1, 120)
    );
    if rng.chance(0.5) {
        s.push_str(&format!(", офис {}", rng.range(1, 450)));
    }
    s
}

/// How many contacts a company has (mean about three).
fn contact_count(rng: &mut Rng, tier: u8) -> u8 {
    let n = [1u8, 2, 3, 4, 5, 6, 7, 8][rng.weighted(&[25, 25, 20, 12, 8, 5, 3, 2])];
    n + tier
}

/// State shared across the companies of one run.
pub struct Customers {
    pub companies: Vec<CompanyInfo>,
    phones: PhoneCheck,
    domains: HashMap<String, u32>,
}

/// Generates `n` companies with contacts and company-level activities, oldest first.
pub fn generate(
    ctx: &mut Ctx,
    n: usize,
    activities_per_company: f64,
) -> anyhow::Result<Vec<CompanyInfo>> {
    let mut state = Customers {
        companies: Vec::with_capacity(n),
        phones: PhoneCheck::default(),
        domains: HashMap::new(),
    };
    // A tenth of the base came in with the initial import in the first two weeks; the
    // rest arrived evenly since.
    let imported = (n / 10).max(1);
    let span_start = days(10.0);
    let span = (ctx.clock.end - span_start - days(1.0)).max(1);
    for i in 0..n {
        let created = if i < imported {
            span_start * i as i64 / imported as i64
        } else {
            span_start + span * (i - imported) as i64 / (n - imported).max(1) as i64
        };
        company(
            ctx,
            &mut state,
            i,
            created,
            i < imported,
            activities_per_company,
        )?;
        ctx.flush_if_full("companies", i as u64 + 1, n as u64)?;
    }
    ctx.flush("companies", n as u64, n as u64)?;
    Ok(state.companies)
}

fn company(
    ctx: &mut Ctx,
    state: &mut Customers,
    index: usize,
    created: i64,
    imported: bool,
    activities_per_company: f64,
) -> anyhow::Result<()> {
    let rng = &mut ctx.rng;
    let tier = tier(index);
    let region = REGIONS[rng.weighted(&REGIONS.iter().map(|r| r.weight).collect::<Vec<_>>())];
    let owner = if tier == 2 {
        ctx.org.key_accounts.pick(rng)
    } else {
        ctx.org.regional[region.team].pick(rng)
    };
    let by = if imported { ctx.org.admin_id } else { owner };
    let industry = rng.weighted(
        &names::INDUSTRIES
            .iter()
            .map(|i| i.weight)
            .collect::<Vec<_>>(),
    );
    let id = ctx.sink.next_id(Entity::Company);

    let mut rec = blank(Entity::Company);
    stamp(&mut rec, id, ctx.clock.instant(created), by, owner);
    let entrepreneur = (tier == 0 && rng.chance(0.15)).then(|| person(rng));
    let (name, short) = if let Some(p) = &entrepreneur {
        let prefix = format!(
            "{}{:02}{:06}",
            region.inn,
            1 + scramble(index as u64, 50_000_000) / 1_000_000,
            scramble(index as u64, 50_000_000) % 1_000_000
        );
        let inn = Inn::with_checksum(&prefix).expect("ten digits");
        rec.insert(
            "legal_name".into(),
            json!(format!("Индивидуальный предприниматель {}", p.full())),
        );
        rec.insert("inn".into(), json!(inn.as_str()));
        (format!("ИП {}", p.short()), p.last.clone())
    } else {
        let (form, full_form, _) = names::LEGAL_FORMS
            [rng.weighted(&names::LEGAL_FORMS.iter().map(|f| f.2).collect::<Vec<_>>())];
        let short = short_name(rng);
        let s = scramble(index as u64, 5_000_000);
        let office = format!("{}{:02}", region.inn, 1 + s / 100_000);
        let inn = Inn::with_checksum(&format!("{office}{:05}", s % 100_000)).expect("nine digits");
        rec.insert("legal_name".into(), json!(format!("{full_form} «{short}»")));
        rec.insert("inn".into(), json!(inn.as_str()));
        rec.insert("kpp".into(), json!(format!("{office}01001")));
        (format!("{form} «{short}»"), short)
    };
    rec.insert("name".into(), json!(name));
    rec.insert("industry".into(), json!(names::INDUSTRIES[industry].name));
    let roles: Vec<&str> = match (tier, rng.weighted(&[55, 30, 5, 4, 3, 3])) {
        (1.., _) | (_, 0) => {
            if rng.chance(0.1) {
                vec!["customer", "partner"]
            } else {
                vec!["customer"]
            }
        }
        (_, 1) => vec!["prospect"],
        (_, 2) => vec!["supplier"],
        (_, 3) => vec!["partner"],
        (_, 4) => vec!["contractor"],
        _ => vec!["competitor"],
    };
    let mut addresses = vec![json!({"kind": "legal", "value": address(rng, &region)})];
    if rng.chance(0.6) {
        addresses.push(json!({"kind": "actual", "value": address(rng, &region)}));
    }
    if roles.contains(&"customer") && rng.chance(0.35) {
        for _ in 0..rng.range(1, 4) {
            addresses.push(json!({"kind": "delivery", "value": address(rng, &region), "name": rng.pick(names::DELIVERY_NAMES)}));
        }
    }
    rec.insert("roles".into(), json!(roles));
    rec.insert("addresses".into(), Json::Array(addresses));
    let mut phones = Vec::new();
    for k in 0..if rng.chance(0.3) { 2 } else { 1 } {
        let serial = scramble(index as u64 * 2 + k, 1_000_000_000);
        phones.push(
            state
                .phones
                .landline(region.area, serial)
                .unwrap_or_else(|| mobile(500_000_000 + index as u64 * 2 + k)),
        );
    }
    rec.insert("phones".into(), json!(phones));
    let domain = domain_of(&short, &mut state.domains);
    let mut emails = vec![format!(
        "{}@{domain}",
        rng.pick(&["info", "office", "zakaz", "mail"])
    )];
    if rng.chance(0.2) {
        emails.push(format!("buh@{domain}"));
    }
    rec.insert("emails".into(), json!(emails));
    if rng.chance(0.6) {
        rec.insert("website".into(), json!(format!("https://{domain}/")));
    }
    rec.insert(
        "source".into(),
        json!(if imported {
            "Импорт из 1С"
        } else {
            rng.pick(names::COMPANY_SOURCES)
        }),
    );
    let private = tier == 0 && rng.chance(0.01);
    rec.insert("private".into(), json!(private));
    if rng.chance(0.15) {
        rec.insert("description".into(), json!(rng.pick(names::COMPANY_NOTES)));
    }
    let mut tags: Vec<&str> = Vec::new();
    if tier == 2 {
        tags.push("ключевой клиент");
    }
    if rng.chance(0.12) {
        let t = *rng.pick(names::COMPANY_TAGS);
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    rec.insert("tags".into(), json!(tags));
    ctx.sink.record(Entity::Company, &rec, &rec);

    // Contacts: the director (or the entrepreneur) first, then the people managers talk to.
    let n_contacts = contact_count(&mut ctx.rng, tier);
    let mut first_contact = 0;
    for k in 0..n_contacts {
        let rng = &mut ctx.rng;
        let cid = ctx.sink.next_id(Entity::Contact);
        if k == 0 {
            first_contact = cid;
        }
        let p = match (&entrepreneur, k) {
            (Some(p), 0) => p.clone(),
            _ => person(rng),
        };
        let position = match (&entrepreneur, k) {
            (Some(_), 0) => "Индивидуальный предприниматель",
            (None, 0) => *rng.pick(&["Генеральный директор", "Директор"]),
            _ => rng.pick(names::POSITIONS),
        };
        let at = (created + rng.range(0, days(3.0))).min(ctx.clock.end);
        let mut c = blank(Entity::Contact);
        stamp(&mut c, cid, ctx.clock.instant(at), by, owner);
        c.insert("last_name".into(), json!(p.last));
        c.insert("first_name".into(), json!(p.first));
        c.insert("middle_name".into(), json!(p.middle));
        c.insert("full_name".into(), json!(p.full()));
        c.insert("position".into(), json!(position));
        let role = if k == 0 {
            Some("ЛПР")
        } else {
            rng.chance(0.6).then(|| *rng.pick(names::CONTACT_ROLES))
        };
        let mut links = vec![json!({"company_id": id, "role": role})];
        if rng.chance(0.05) && index > 0 {
            let other = &state.companies[rng.index(index)];
            if !other.private {
                links.push(json!({"company_id": other.id, "role": "Консультант"}));
            }
        }
        c.insert("companies".into(), Json::Array(links));
        let mut cphones = vec![mobile(cid as u64)];
        if rng.chance(0.3) {
            cphones.push(phones[0].clone());
        }
        c.insert("phones".into(), json!(cphones));
        if rng.chance(0.8) {
            c.insert("emails".into(), json!([format!("{}@{domain}", p.login())]));
        }
        if rng.chance(0.25) {
            let born = chrono::NaiveDate::from_ymd_opt(
                rng.range(1962, 2001) as i32,
                rng.range(1, 13) as u32,
                rng.range(1, 29) as u32,
            );
            c.insert(
                "birthday".into(),
                json!(born.map(|d| d.format("%Y-%m-%d").to_string())),
            );
        }
        if rng.chance(0.35) {
            let mut m = serde_json::Map::new();
            m.insert(
                "telegram".into(),
                json!(format!("@{}", p.login().replace('.', "_"))),
            );
            if rng.chance(0.3) {
                m.insert("whatsapp".into(), json!(mobile(cid as u64)));
            }
            c.insert("messengers".into(), Json::Object(m));
        }
        c.insert("source".into(), json!(rng.pick(names::CONTACT_SOURCES)));
        ctx.sink.record(Entity::Contact, &c, &c);
    }
    let info = CompanyInfo {
        id,
        name,
        owner,
        created,
        private,
        industry: industry as u8,
        first_contact,
        contacts: n_contacts,
    };

    // Calls, letters and notes about the company outside any deal.
    let thread = Thread {
        company: id,
        first_contact,
        contacts: n_contacts,
        deal: None,
        owner,
        from: created,
        to: ctx.clock.end,
        support: !private,
    };
    let n = ctx.rng.poisson(activities_per_company);
    activities::past(ctx, &thread, n);
    state.companies.push(info);
    Ok(())
}
