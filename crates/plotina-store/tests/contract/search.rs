//! Global search by the parts of values people type: an e-mail or its beginning, a
//! domain, the beginning of an INN, the tail or the international beginning of a phone
//! number; each an index look-up (checked in the query plans), each within the actor's
//! scope and without trashed records.

use super::*;
use plotina_store::db::Backend as Engine;
use plotina_store::search::{hits_statement, IndexUse};
use sea_query::{Cond, Expr, PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_binder::SqlxBinder;

/// The hits of a global search as `(entity, id)`, sorted.
async fn hits(t: &T, a: &Actor, q: &str) -> Vec<(Entity, i64)> {
    let mut out: Vec<(Entity, i64)> = t
        .store
        .search(a, q, 10)
        .await
        .unwrap_or_else(|e| panic!("search {q:?}: {e:?}"))
        .into_iter()
        .map(|h| (h.entity, h.id))
        .collect();
    out.sort();
    out
}

pub async fn search_by_email_domain_inn_prefix_and_phone_tail(t: &T) {
    let fx = &t.fx;
    let (admin, m1, m2) = (&fx.admin, &fx.m1, &fx.m2);
    use Entity::{Company, Contact, Lead};
    let romashka = id(&t
        .create(m1, Company, json!({"name": "ООО «Ромашка»", "inn": "7707083893", "phones": ["+7 495 111-22-33"], "emails": ["info@romashka.ru"]}))
        .await);
    let lyutik = id(&t
        .create(
            m1,
            Company,
            json!({"name": "ООО «Лютик»", "inn": "7736050003"}),
        )
        .await);
    let ivanov = id(&t
        .create(m1, Contact, json!({"last_name": "Иванов", "first_name": "Иван", "phones": ["+7 916 123-45-67"], "emails": ["Ivanov@Mail.ru", "ivan@romashka.ru"]}))
        .await);
    let ivanova = id(&t
        .create(m1, Contact, json!({"last_name": "Иванова", "first_name": "Анна", "phones": ["+7 903 773-45-67"], "emails": ["ivanova@mail.ru"]}))
        .await);
    let lead = id(&t
        .create(
            m1,
            Lead,
            json!({"title": "Заявка от Ромашки", "inn": "7707083893"}),
        )
        .await);
    // Another manager's lead and private company with the same domain and the same tail
    // of a number (managers read only their own leads, nobody else's private companies).
    let petrov = id(&t
        .create(m2, Lead, json!({"title": "Заявка Петрова", "phone": "+7 912 003-45-67", "email": "petrov@mail.ru"}))
        .await);
    let secret = id(&t
        .create(
            m2,
            Company,
            json!({"name": "Секретная", "private": true, "emails": ["boss@mail.ru"]}),
        )
        .await);
    // A trashed contact matching everything.
    let old = id(&t
        .create(m1, Contact, json!({"last_name": "Иванов-старый", "first_name": "Иван", "phones": ["+7 916 100-45-67"], "emails": ["ivanov@mail.ru.old"]}))
        .await);
    t.store.delete(admin, Contact, old, None).await.unwrap();

    // E-mails: a whole address, its beginning, in any case.
    assert_eq!(hits(t, m1, "ivanov@mail.ru").await, [(Contact, ivanov)]);
    assert_eq!(hits(t, m1, "  IVANOV@MAIL.RU ").await, [(Contact, ivanov)]);
    assert_eq!(
        hits(t, m1, "ivanov@").await,
        [(Contact, ivanov)],
        "the beginning of an address (not «ivanova@»)"
    );
    assert_eq!(hits(t, m1, "ivanov@ma").await, [(Contact, ivanov)]);
    assert_eq!(hits(t, m1, "ivanova@").await, [(Contact, ivanova)]);
    assert_eq!(
        hits(t, m1, "van@romashka.ru").await,
        [],
        "a middle is no beginning"
    );
    assert_eq!(hits(t, m1, "sidorov@mail.ru").await, []);
    // Domains, whole or begun, in any case.
    assert_eq!(
        hits(t, m1, "@mail.ru").await,
        [(Contact, ivanov), (Contact, ivanova)],
        "another manager's lead and private company and the trashed contact are not found"
    );
    assert_eq!(
        hits(t, admin, "@Mail.Ru").await,
        [
            (Company, secret),
            (Contact, ivanov),
            (Contact, ivanova),
            (Lead, petrov)
        ]
    );
    assert_eq!(
        hits(t, m1, "@romashka.ru").await,
        [(Company, romashka), (Contact, ivanov)]
    );
    assert_eq!(
        hits(t, m1, "@roma").await,
        [(Company, romashka), (Contact, ivanov)]
    );
    assert_eq!(hits(t, m1, "@ashka.ru").await, []);
    assert_eq!(hits(t, m1, "@").await, []);

    // INN: whole or begun (5 digits and more).
    assert_eq!(
        hits(t, m1, "7707083893").await,
        [(Company, romashka), (Lead, lead)]
    );
    assert_eq!(
        hits(t, m1, "770708").await,
        [(Company, romashka), (Lead, lead)]
    );
    assert_eq!(hits(t, m1, "77360").await, [(Company, lyutik)]);
    assert_eq!(
        hits(t, m1, "83893").await,
        [],
        "an INN's tail is not its beginning"
    );

    // Phones: the tail as typed, the international beginning, the whole number.
    assert_eq!(
        hits(t, m1, "3-45-67").await,
        [(Contact, ivanov), (Contact, ivanova)]
    );
    assert_eq!(
        hits(t, admin, "345-67").await,
        [(Contact, ivanov), (Contact, ivanova), (Lead, petrov)]
    );
    assert_eq!(hits(t, m1, "123-45-67").await, [(Contact, ivanov)]);
    assert_eq!(hits(t, m1, "916 123-45-67").await, [(Contact, ivanov)]);
    assert_eq!(hits(t, m1, "111-22-33").await, [(Company, romashka)]);
    assert_eq!(hits(t, m1, "123-45").await, [], "a middle is no tail");
    assert_eq!(hits(t, m1, "+7 916 1").await, [(Contact, ivanov)]);
    assert_eq!(hits(t, m1, "8 (916) 123-45-67").await, [(Contact, ivanov)]);

    // Edits rewrite the derived rows; a restore brings them back.
    t.update(
        m1,
        Contact,
        ivanov,
        json!({"emails": ["ivanov@yandex.ru"], "phones": ["+7 916 000-00-01"]}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(hits(t, m1, "@mail.ru").await, [(Contact, ivanova)]);
    assert_eq!(hits(t, m1, "@yandex").await, [(Contact, ivanov)]);
    assert_eq!(hits(t, m1, "123-45-67").await, []);
    assert_eq!(hits(t, m1, "000-01").await, [(Contact, ivanov)]);
    t.store.restore(admin, Contact, old).await.unwrap();
    assert_eq!(hits(t, m1, "ivanov@mail.ru").await, [(Contact, old)]);
    assert_eq!(hits(t, m1, "100-45-67").await, [(Contact, old)]);

    // The same look-ups filter lists.
    let params = ListParams {
        q: Some("@mail.ru".into()),
        ..Default::default()
    };
    assert_eq!(
        t.store.count(m1, Contact, &params, 100).await.unwrap(),
        2,
        "ivanova and the restored one"
    );
}

/// A domain shared by more records than [`plotina_store::search::DENSE_MATCHES`] walks
/// the list newest first instead of reading every match: the newest ten, in scope.
pub async fn a_common_domain_gives_the_newest_matches(t: &T) {
    let fx = &t.fx;
    let n = plotina_store::search::DENSE_MATCHES + 20;
    let mut ids = Vec::new();
    for i in 0..n {
        let body = json!({"last_name": format!("Клиент{i}"), "emails": [format!("client{i}@free.example")]});
        ids.push(id(&t.create(&fx.m1, Entity::Contact, body).await));
    }
    // The newest one is trashed; another manager's lead is not the first one's to see.
    let newest = ids.pop().unwrap();
    t.store
        .delete(&fx.admin, Entity::Contact, newest, None)
        .await
        .unwrap();
    let other = id(&t
        .create(
            &fx.m2,
            Entity::Lead,
            json!({"title": "Чужая заявка", "email": "other@free.example"}),
        )
        .await);
    let found = |a: &Actor, q: &'static str, limit: u64| {
        let a = a.clone();
        async move {
            t.store
                .search(&a, q, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.entity, h.id))
                .collect::<Vec<_>>()
        }
    };
    let k = ids.len();
    let newest_ten: Vec<(Entity, i64)> = (1..=10).map(|j| (Entity::Contact, ids[k - j])).collect();
    assert_eq!(found(&fx.m1, "@free.example", 10).await, newest_ten);
    assert_eq!(
        found(&fx.admin, "@free", 3).await,
        [
            (Entity::Contact, ids[k - 1]),
            (Entity::Contact, ids[k - 2]),
            (Entity::Contact, ids[k - 3]),
            (Entity::Lead, other)
        ]
    );
}

/// The plan of one search section, as the engine explains it (PostgreSQL with
/// sequential scans off: on a small table it would read the table anyway, and what is
/// checked here is that an index *can* serve the condition).
async fn plan(t: &T, entity: Entity, q: &str, how: IndexUse) -> String {
    let engine = t.store.backend();
    let visible = Cond::all().add(Expr::col(sea_query::Alias::new("deleted_at")).is_null());
    let stmt = hits_statement(engine, entity, q, visible, 10, how);
    let mut tx = t.store.pool().begin().await.unwrap();
    let (sql, values, column) = match engine {
        Engine::Sqlite => {
            let (sql, v) = stmt.build_sqlx(SqliteQueryBuilder);
            (format!("EXPLAIN QUERY PLAN {sql}"), v, "detail")
        }
        Engine::Postgres => {
            tx.raw("SET LOCAL enable_seqscan = off").await.unwrap();
            let (sql, v) = stmt.build_sqlx(PostgresQueryBuilder);
            (format!("EXPLAIN {sql}"), v, "QUERY PLAN")
        }
    };
    let rows = tx.fetch_all_sql(&sql, values).await.unwrap();
    tx.commit().await.unwrap();
    rows.iter()
        .map(|r| r.text(column).unwrap().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn search_lookups_use_their_indexes(t: &T) {
    for (entity, q, index) in [
        (Entity::Contact, "ivanov@mail.ru", "record_lookup_value_idx"),
        (Entity::Contact, "ivanov@", "record_lookup_value_idx"),
        (Entity::Contact, "@mail.ru", "record_lookup_value_idx"),
        (Entity::Contact, "345-67-89", "record_lookup_value_idx"),
        (Entity::Contact, "+7 916 12", "record_lookup_value_idx"),
        (Entity::Company, "770708", "companies_inn_idx"),
        (Entity::Lead, "770708", "leads_inn_idx"),
    ] {
        let p = plan(t, entity, q, IndexUse::Drive).await;
        assert!(p.contains(index), "{entity:?} {q:?}: {index} in\n{p}");
        assert!(
            !p.contains("SCAN record_lookup") && !p.contains("Seq Scan on record_lookup"),
            "{entity:?} {q:?}: no scan of the look-ups in\n{p}"
        );
    }
    // SQLite's walk of a common domain checks each row through the record's look-ups
    // (PostgreSQL turns the EXISTS into a semi-join and picks its side by statistics).
    if t.store.backend() == Engine::Sqlite {
        let p = plan(t, Entity::Contact, "@mail.ru", IndexUse::Filter).await;
        assert!(p.contains("record_lookup_record_idx"), "{p}");
        assert!(
            !p.contains("TEMP B-TREE"),
            "newest first without sorting: {p}"
        );
    }
}
