//! A purpose-built set of contacts for `plotina duplicates bench`: written straight into
//! the tables (with their `record_lookup` and `dedup_keys` rows), fast enough for a
//! million rows. Only for an empty benchmark database: ids are written explicitly.

use plotina_core::types::names::person_key;
use sea_query::{Alias, Expr, Func, Query, Value};
use serde_json::json;

use crate::Store;

pub async fn contact_count(store: &Store) -> anyhow::Result<i64> {
    Ok(store
        .pool()
        .fetch_i64(
            &Query::select()
                .expr_as(Func::count(Expr::col(Alias::new("id"))), Alias::new("n"))
                .from(Alias::new("contacts"))
                .to_owned(),
            "n",
        )
        .await?
        .unwrap_or_default())
}

const FIRST: [&str; 20] = [
    "Анна",
    "Борис",
    "Вера",
    "Глеб",
    "Дарья",
    "Егор",
    "Жанна",
    "Зоя",
    "Игорь",
    "Кира",
    "Лев",
    "Мария",
    "Никита",
    "Олег",
    "Пётр",
    "Роман",
    "Софья",
    "Тимур",
    "Ульяна",
    "Фёдор",
];
/// Surnames of the demo data (the first 25 give the finder's name groups their shape).
const LAST: &[&str] = crate::demo::SURNAMES;

/// Writes `n` contacts straight into the tables (with their `record_lookup` and
/// `dedup_keys` rows): every 50th shares a phone with an earlier one, every 70th an
/// e-mail, every 40th a name (words swapped); the other names are unique.
pub async fn fill_contacts(store: &Store, owner: i64, n: u64) -> anyhow::Result<()> {
    let batch = 500u64;
    let now = chrono::Utc::now();
    let mut i = 0u64;
    while i < n {
        let mut tx = store.pool().begin_write().await?;
        let mut contacts = Query::insert();
        contacts.into_table(Alias::new("contacts")).columns(
            [
                "id",
                "created_at",
                "updated_at",
                "owner_id",
                "version",
                "last_name",
                "first_name",
                "full_name",
                "phones",
                "emails",
                "search_text",
            ]
            .map(Alias::new),
        );
        let mut lookups = Query::insert();
        lookups
            .into_table(Alias::new("record_lookup"))
            .columns(["entity", "record_id", "field", "kind", "value"].map(Alias::new));
        let mut keys = Query::insert();
        keys.into_table(Alias::new("dedup_keys"))
            .columns(["entity", "record_id", "kind", "value"].map(Alias::new));
        let end = (i + batch).min(n);
        for k in i..end {
            let id = (k + 1) as i64;
            // Every 40th repeats the name of the contact 5 before, words swapped.
            let base = if k % 40 == 39 { k - 5 } else { k };
            let first = FIRST[(base % 20) as usize];
            let last = format!("{}-{}", LAST[((base / 20) % 25) as usize], base / 500);
            let full = if base == k {
                format!("{last} {first}")
            } else {
                format!("{first} {last}")
            };
            let phone_no = if k % 50 == 49 { k - 7 } else { k };
            let phone = format!("+7900{phone_no:07}");
            let mail_no = if k % 70 == 69 { k - 3 } else { k };
            let email = format!("c{mail_no}@example.ru");
            contacts.values_panic(crate::db::vals([
                id.into(),
                now.into(),
                now.into(),
                owner.into(),
                1i64.into(),
                last.clone().into(),
                first.into(),
                full.clone().into(),
                Value::Json(Some(Box::new(json!([phone])))),
                Value::Json(Some(Box::new(json!([email])))),
                full.to_lowercase().into(),
            ]));
            for (field, kind, v) in [("phones", "phone", &phone), ("emails", "email", &email)] {
                let derived = crate::lookup::derived(kind, v);
                for (kind, v) in std::iter::once((kind, v.clone())).chain(derived) {
                    lookups.values_panic(crate::db::vals([
                        "contact".into(),
                        id.into(),
                        field.into(),
                        kind.into(),
                        v.into(),
                    ]));
                }
            }
            keys.values_panic(crate::db::vals([
                "contact".into(),
                id.into(),
                "person_name".into(),
                person_key(&full).into(),
            ]));
        }
        tx.execute(&contacts).await?;
        tx.execute(&lookups).await?;
        tx.execute(&keys).await?;
        tx.commit().await?;
        i = end;
        if i.is_multiple_of(100_000) {
            eprintln!("  {i} contacts");
        }
    }
    let mut tx = store.pool().begin().await?;
    tx.raw("ANALYZE").await?;
    tx.commit().await?;
    Ok(())
}
