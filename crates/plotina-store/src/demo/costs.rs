//! The demo's marketing costs: what the paid sources of first contact cost per month
//! over the last twelve months (exhibitions once a quarter), scaled with the size of the
//! data set, so the sources report shows cost per lead and ROMI on a fresh demo.
//! «Повторная продажа» and «Рекомендация» cost nothing.

use chrono::{Datelike, Months, NaiveDate};

use super::clock::Rng;
use super::org::Org;
use crate::store::Store;

/// Roubles per month on the small set (10,000 deals), chosen so that ROMI ranges from
/// break-even (exhibitions) to several hundred percent (tenders, incoming calls).
const PAID: &[(&str, i64)] = &[
    ("Сайт", 6_500_000),
    ("Входящий звонок", 2_900_000),
    ("Холодный звонок", 13_000_000),
    ("Тендер", 4_100_000),
    ("Выставка", 60_000_000),
];

pub async fn install(store: &Store, org: &Org, deals: usize, seed: u64) -> anyhow::Result<()> {
    let admin = crate::auth::actor_for(store.pool(), org.admin_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo administrator missing"))?;
    let mut rng = Rng::new(seed, "costs");
    let scale = deals as f64 / 10_000.0;
    let today = chrono::Utc::now().date_naive();
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    for back in 0..12u32 {
        let month = this_month - Months::new(back);
        for (source, rub) in PAID {
            if *source == "Выставка" && !month.month().is_multiple_of(3) {
                continue;
            }
            let rub = (*rub as f64 * scale * rng.range(80, 120) as f64 / 100.0).round() as i64;
            let key = format!("{:04}-{:02}", month.year(), month.month());
            store
                .set_source_cost(&admin, source, &key, Some(rub * 100))
                .await?;
        }
    }
    Ok(())
}
