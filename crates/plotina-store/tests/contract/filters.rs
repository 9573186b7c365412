//! The filter language end to end: scalar, list, custom and related fields.

use super::*;

pub async fn custom_fields_set_filter_and_sort(t: &T) {
    let (admin, m1) = (&t.fx.admin, &t.fx.m1);
    for def in [
        json!({"entity": "deal", "key": "region", "label": "Регион", "kind": "select", "options": ["Урал", "Сибирь", "Центр"]}),
        json!({"entity": "deal", "key": "size", "label": "Размер", "kind": "number"}),
        json!({"entity": "deal", "key": "start", "label": "Старт", "kind": "date"}),
        json!({"entity": "activity", "key": "contract", "label": "Договор", "kind": "text", "required": true}),
    ] {
        t.create(admin, Entity::CustomField, def).await;
    }
    let deal = |title: &str, custom: Json| {
        let body = json!({"title": title, "pipeline_id": t.fx.pipeline, "custom": custom});
        async move { id(&t.create(m1, Entity::Deal, body).await) }
    };
    let e1 = deal(
        "e1",
        json!({"region": "Урал", "size": 5, "start": "2030-01-10"}),
    )
    .await;
    let e2 = deal(
        "e2",
        json!({"region": "Сибирь", "size": "12,5", "start": "01.02.2030"}),
    )
    .await;
    let e3 = deal("e3", json!({"region": "Урал", "size": "100"})).await;
    let e4 = deal("e4", json!({})).await;
    let e5 = deal(
        "e5",
        json!({"region": "Центр", "size": 12.5, "start": day(-3)}),
    )
    .await;
    let got = t.get(m1, Entity::Deal, e2).await.unwrap();
    assert_eq!(
        got["custom"],
        json!({"region": "Сибирь", "size": 12.5, "start": "2030-02-01"})
    );

    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("custom.region = \"Урал\"", vec![e1, e3]),
        ("custom.region in (\"Урал\", \"Сибирь\")", vec![e1, e2, e3]),
        ("custom.region != \"Урал\"", vec![e2, e4, e5]),
        ("custom.region not in (\"Урал\")", vec![e2, e4, e5]),
        ("custom.region is null", vec![e4]),
        ("custom.region ~ \"ура\"", vec![e1, e3]),
        ("custom.size > 10", vec![e2, e3, e5]),
        ("custom.size = 12.5", vec![e2, e5]),
        ("custom.size <= 5", vec![e1]),
        ("custom.size >= 12.5 and custom.size < 100", vec![e2, e5]),
        ("custom.size is not null", vec![e1, e2, e3, e5]),
        ("custom.start < \"2030-02-01\"", vec![e1, e5]),
        ("custom.start >= today", vec![e1, e2]),
        ("custom.start < today", vec![e5]),
        ("custom.start = \"10.01.2030\"", vec![e1]),
        ("custom.start is null", vec![e3, e4]),
        ("custom.region = \"Урал\" and custom.size > 50", vec![e3]),
    ];
    for (filter, want) in cases {
        assert_eq!(
            t.ids(m1, Entity::Deal, filter).await,
            sorted(want),
            "{filter}"
        );
    }

    let order = |sort: &'static str| async move {
        let params = ListParams {
            sort: Some(sort.into()),
            limit: Some(100),
            ..Default::default()
        };
        t.store
            .list(m1, Entity::Deal, &params)
            .await
            .unwrap()
            .data
            .iter()
            .map(id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        order("custom.size").await,
        [e1, e2, e5, e3, e4],
        "ascending, ties by id, nulls last"
    );
    assert_eq!(
        order("-custom.size").await,
        [e3, e5, e2, e1, e4],
        "descending, nulls still last"
    );
    assert_eq!(order("custom.region,-id").await, [e2, e3, e1, e5, e4]);
    assert_eq!(order("custom.start").await, [e5, e1, e2, e3, e4]);

    // The other kinds: money, bool, datetime, multi-select and links.
    for def in [
        json!({"entity": "deal", "key": "budget", "label": "Бюджет", "kind": "money"}),
        json!({"entity": "deal", "key": "vip", "label": "VIP", "kind": "bool"}),
        json!({"entity": "deal", "key": "meet_at", "label": "Встреча", "kind": "datetime"}),
        json!({"entity": "deal", "key": "channels", "label": "Каналы", "kind": "multi_select", "options": ["web", "phone", "mail"]}),
        json!({"entity": "deal", "key": "partner", "label": "Партнёр", "kind": "link", "link_entity": "company"}),
    ] {
        t.create(admin, Entity::CustomField, def).await;
    }
    let partner = id(&t
        .create(m1, Entity::Company, json!({"name": "Партнёр"}))
        .await);
    let tomorrow = format!("{}T09:00:00+03:00", day(1));
    let extra = [
        (
            e1,
            json!({"budget": "1 500,50", "vip": true, "meet_at": tomorrow, "channels": ["web", "phone"], "partner": partner}),
        ),
        (
            e2,
            json!({"budget": 900, "vip": false, "meet_at": "2020-05-01T12:00:00Z", "channels": "mail"}),
        ),
    ];
    for (deal, custom) in extra {
        t.update(m1, Entity::Deal, deal, json!({"custom": custom}), None)
            .await
            .unwrap();
    }
    let got = t.get(m1, Entity::Deal, e1).await.unwrap();
    assert_eq!(got["custom"]["budget"], "1500.50");
    assert_eq!(got["custom"]["channels"], json!(["web", "phone"]));
    assert_eq!(got["custom"]["partner"], json!(partner));
    let by_partner = format!("custom.partner = {partner}");
    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("custom.budget > 1000", vec![e1]),
        ("custom.budget <= 900", vec![e2]),
        ("custom.vip = true", vec![e1]),
        ("custom.vip = false", vec![e2]),
        ("custom.meet_at > now", vec![e1]),
        ("custom.meet_at < \"2021-01-01T00:00:00Z\"", vec![e2]),
        ("custom.meet_at = today+1d", vec![e1]),
        ("custom.meet_at >= today", vec![e1]),
        ("custom.meet_at < today-7d", vec![e2]),
        ("custom.meet_at = \"2020-05-01\"", vec![e2]),
        ("custom.channels = \"web\"", vec![e1]),
        ("custom.channels in (\"mail\", \"phone\")", vec![e1, e2]),
        ("custom.channels != \"web\"", vec![e2, e3, e4, e5]),
        (
            "custom.channels not in (\"web\", \"mail\")",
            vec![e3, e4, e5],
        ),
        ("custom.channels is null", vec![e3, e4, e5]),
        ("custom.channels is not null", vec![e1, e2]),
        (&by_partner, vec![e1]),
        ("custom.partner = \"Партнёр\"", vec![e1]),
        ("custom.partner is null", vec![e2, e3, e4, e5]),
    ];
    for (filter, want) in cases {
        assert_eq!(
            t.ids(m1, Entity::Deal, filter).await,
            sorted(want),
            "{filter}"
        );
    }
    assert_eq!(
        order("-custom.budget").await,
        [e1, e2, e5, e4, e3],
        "NULLs last, by id in the sort's direction"
    );
    assert_eq!(order("custom.meet_at").await, [e2, e1, e3, e4, e5]);
    let secret = id(&t
        .create(
            &t.fx.m2,
            Entity::Company,
            json!({"name": "Секрет", "private": true}),
        )
        .await);
    assert_invalid(
        t.update(
            m1,
            Entity::Deal,
            e3,
            json!({"custom": {"partner": secret}}),
            None,
        )
        .await,
        "custom.partner",
        "link_not_found",
    );
    assert_invalid(
        t.update(
            m1,
            Entity::Deal,
            e3,
            json!({"custom": {"channels": ["fax"]}}),
            None,
        )
        .await,
        "custom.channels",
        "select_unknown",
    );

    // Values are checked against their definitions.
    let before = t.counts().await;
    for (custom, field, code) in [
        (json!({"region": "Марс"}), "custom.region", "select_unknown"),
        (json!({"size": "много"}), "custom.size", "expected_number"),
        (
            json!({"start": "2030-13-01"}),
            "custom.start",
            "date_invalid",
        ),
    ] {
        assert_invalid(
            t.update(m1, Entity::Deal, e4, json!({"custom": custom}), None)
                .await,
            field,
            code,
        );
    }
    assert_invalid(
        t.try_create(m1, Entity::Activity, json!({"kind": "note"}))
            .await,
        "custom.contract",
        "required",
    );
    assert_eq!(t.counts().await, before);
    let note = t
        .create(
            m1,
            Entity::Activity,
            json!({"kind": "note", "custom": {"contract": "Д-1"}}),
        )
        .await;
    assert_invalid(
        t.update(
            m1,
            Entity::Activity,
            id(&note),
            json!({"custom": {"contract": null}}),
            None,
        )
        .await,
        "custom.contract",
        "required",
    );

    // Clearing a value removes it; other values stay.
    let cleared = t
        .update(
            m1,
            Entity::Deal,
            e1,
            json!({"custom": {"size": null}}),
            None,
        )
        .await
        .unwrap();
    assert!(cleared["custom"].get("size").is_none());
    assert_eq!(
        (
            cleared["custom"]["region"].as_str(),
            cleared["custom"]["budget"].as_str()
        ),
        (Some("Урал"), Some("1500.50"))
    );
    assert_eq!(
        t.ids(m1, Entity::Deal, "custom.size is null").await,
        [e1, e4]
    );
    assert_eq!(
        bad_filter(t.try_ids(m1, Entity::Deal, "custom.colour = 1").await).0,
        "filter_unknown_field"
    );
    assert_eq!(
        bad_filter(t.try_ids(m1, Entity::Deal, "custom.size > \"много\"").await).0,
        "filter_bad_value"
    );
}

/// Companies and deals the filter tests share.
struct World {
    c1: i64,
    c2: i64,
    c3: i64,
    c4: i64,
    d1: i64,
    d2: i64,
    d3: i64,
    d4: i64,
}

async fn world(t: &T) -> World {
    let fx = &t.fx;
    let (m1, m2, head) = (&fx.m1, &fx.m2, &fx.head);
    let c1 = id(&t.create(m1, Entity::Company, json!({"name": "ООО «Ромашка»", "industry": "retail", "inn": "7707083893", "addresses": [{"value": "Москва, Тверская 1"}]})).await);
    let c2 = id(&t
        .create(
            m2,
            Entity::Company,
            json!({"name": "Лютик", "industry": "auto"}),
        )
        .await);
    let c3 = id(&t
        .create(m1, Entity::Company, json!({"name": "Василёк"}))
        .await);
    let c4 = id(&t
        .create(
            m1,
            Entity::Company,
            json!({"name": "РОМАШКА-ТРЕЙД", "industry": "retail"}),
        )
        .await);
    let mk = |a: &Actor, body: Json| {
        let a = a.clone();
        async move { id(&t.create(&a, Entity::Deal, body).await) }
    };
    let p = fx.pipeline;
    let d1 = mk(m1, json!({"title": "Поставка оборудования", "pipeline_id": p, "amount": 150000, "close_date": day(3), "company_id": c1, "stage_id": fx.stage("Переговоры")})).await;
    let d2 = mk(m2, json!({"title": "Сервисный договор", "pipeline_id": p, "amount": "50000", "close_date": day(-10), "company_id": c2})).await;
    let d3 = mk(m1, json!({"title": "Монтаж", "pipeline_id": p, "company_id": c3, "stage_id": fx.stage("Договор")})).await;
    let d4 = mk(head, json!({"title": "монтаж оборудования", "pipeline_id": p, "amount": "50000.50", "close_date": day(0)})).await;
    World {
        c1,
        c2,
        c3,
        c4,
        d1,
        d2,
        d3,
        d4,
    }
}

pub async fn filter_language_end_to_end(t: &T) {
    let w = world(t).await;
    let World {
        c1,
        c2,
        c3,
        c4,
        d1,
        d2,
        d3,
        d4,
    } = w;
    let admin = &t.fx.admin;
    let deals: Vec<(&str, Vec<i64>)> = vec![
        ("amount >= 100000", vec![d1]),
        ("amount < 100000", vec![d2, d4]),
        ("amount = 50000", vec![d2]),
        ("amount != 50000", vec![d1, d3, d4]),
        ("amount > 50000 and amount <= 150000", vec![d1, d4]),
        ("amount is null", vec![d3]),
        ("amount is not null", vec![d1, d2, d4]),
        ("title ~ \"оборудован\"", vec![d1, d4]),
        ("title ~ \"ОБОРУДОВАНИЯ\"", vec![d1, d4]),
        ("title ~ \"монтаж\"", vec![d3, d4]),
        ("title ~ \"МОНТАЖ\"", vec![d3, d4]),
        ("title !~ \"монтаж\"", vec![d1, d2]),
        ("title ^= \"монтаж\"", vec![d3, d4]),
        ("title ^= \"оборуд\"", vec![]),
        ("title = \"Монтаж\"", vec![d3]),
        ("title != \"Монтаж\"", vec![d1, d2, d4]),
        ("title in (\"Монтаж\", \"Сервисный договор\")", vec![d2, d3]),
        ("stage = \"Переговоры\"", vec![d1]),
        ("stage = \"Новая\"", vec![d2, d4]),
        ("stage != \"Новая\"", vec![d1, d3]),
        ("stage in (\"Новая\", \"Договор\")", vec![d2, d3, d4]),
        ("stage not in (\"Новая\")", vec![d1, d3]),
        ("stage = \"open\"", vec![d1, d2, d3, d4]),
        ("owner = \"m2\"", vec![d2]),
        ("owner in (\"m1\", \"head\")", vec![d1, d3, d4]),
        ("owner != \"m1\"", vec![d2, d4]),
        ("close_date < today", vec![d2]),
        ("close_date = today", vec![d4]),
        ("close_date > today", vec![d1]),
        ("close_date >= today-30d", vec![d1, d2, d4]),
        ("close_date <= today+1w", vec![d1, d2, d4]),
        ("close_date is null", vec![d3]),
        ("close_date >= \"01.01.2000\"", vec![d1, d2, d4]),
        ("close_date < \"2000-01-01\"", vec![]),
        ("created_at >= today-7d", vec![d1, d2, d3, d4]),
        ("created_at < today-7d", vec![]),
        ("created_at = today", vec![d1, d2, d3, d4]),
        (
            "updated_at > now-1h and updated_at <= now",
            vec![d1, d2, d3, d4],
        ),
        ("probability >= 60", vec![d1, d3]),
        ("currency = \"RUB\"", vec![d1, d2, d3, d4]),
        (
            "(owner = \"m1\" or company.industry = \"auto\") and amount is not null",
            vec![d1, d2],
        ),
        ("not (stage = \"Новая\")", vec![d1, d3]),
        (
            "not title ~ \"монтаж\" and not amount is null",
            vec![d1, d2],
        ),
    ];
    for (filter, want) in deals {
        assert_eq!(
            t.ids(admin, Entity::Deal, filter).await,
            sorted(want),
            "deals: {filter}"
        );
    }
    let stage_id = format!("stage = {}", t.fx.stage("Договор"));
    assert_eq!(t.ids(admin, Entity::Deal, &stage_id).await, [d3]);
    assert_eq!(t.ids(&t.fx.m1, Entity::Deal, "owner = me").await, [d1, d3]);
    assert_eq!(t.ids(&t.fx.head, Entity::Deal, "owner = me").await, [d4]);

    let companies: Vec<(&str, Vec<i64>)> = vec![
        ("name ~ \"ромашка\"", vec![c1, c4]),
        ("name ~ \"РОМАШКА\"", vec![c1, c4]),
        ("name ~ \"Ромашка\"", vec![c1, c4]),
        ("name ~ \"трейд\"", vec![c4]),
        ("name ~ \"василёк\"", vec![c3]),
        ("name ^= \"ооо\"", vec![c1]),
        ("industry = \"retail\"", vec![c1, c4]),
        ("industry != \"retail\"", vec![c2, c3]),
        ("industry in (\"retail\", \"auto\")", vec![c1, c2, c4]),
        ("industry not in (\"retail\")", vec![c2, c3]),
        ("industry is null", vec![c3]),
        ("inn = \"7707083893\"", vec![c1]),
        ("inn ^= \"7707\"", vec![c1]),
        ("private = false", vec![c1, c2, c3, c4]),
        ("private = true", vec![]),
        ("addresses ~ \"москва\"", vec![c1]),
        ("addresses ~ \"тверская\"", vec![c1]),
    ];
    for (filter, want) in companies {
        assert_eq!(
            t.ids(admin, Entity::Company, filter).await,
            sorted(want),
            "companies: {filter}"
        );
    }
    assert_eq!(
        t.ids(&t.fx.m1, Entity::Company, "owner = me").await,
        [c1, c3, c4]
    );
}

pub async fn filter_related_paths(t: &T) {
    let w = world(t).await;
    let (admin, m1) = (&t.fx.admin, &t.fx.m1);
    let child = id(&t
        .create(m1, Entity::Deal, json!({"title": "Монтаж на Урале", "pipeline_id": t.fx.pipeline, "parent_id": w.d1, "stage_id": t.fx.stage("Договор")}))
        .await);
    let contact = id(&t
        .create(
            m1,
            Entity::Contact,
            json!({"last_name": "Петров", "companies": [w.c1]}),
        )
        .await);
    let act = id(&t
        .create(
            m1,
            Entity::Activity,
            json!({"kind": "call", "deal_id": w.d1, "contact_id": contact}),
        )
        .await);
    let by_company = format!("companies = {}", w.c1);
    let cases: Vec<(Entity, &str, Vec<i64>)> = vec![
        (Entity::Deal, "company.industry = \"retail\"", vec![w.d1]),
        (
            Entity::Deal,
            "company.industry in (\"retail\", \"auto\")",
            vec![w.d1, w.d2],
        ),
        (Entity::Deal, "company.industry is null", vec![w.d3]),
        (Entity::Deal, "company.name ~ \"ромаш\"", vec![w.d1]),
        (Entity::Deal, "company = \"Лютик\"", vec![w.d2]),
        (Entity::Deal, "company.owner = \"m2\"", vec![w.d2]),
        (Entity::Deal, "parent.stage = \"Переговоры\"", vec![child]),
        (
            Entity::Deal,
            "parent.company.industry = \"retail\"",
            vec![child],
        ),
        (Entity::Deal, "parent is not null", vec![child]),
        (Entity::Deal, "children.stage = \"Договор\"", vec![w.d1]),
        (Entity::Deal, "children.stage = \"Новая\"", vec![]),
        (Entity::Deal, "children.title ~ \"урал\"", vec![w.d1]),
        (Entity::Activity, "deal.stage = \"Переговоры\"", vec![act]),
        (
            Entity::Activity,
            "deal.company.industry = \"retail\"",
            vec![act],
        ),
        (
            Entity::Activity,
            "contact.last_name = \"Петров\"",
            vec![act],
        ),
        (Entity::Contact, &by_company, vec![contact]),
    ];
    for (entity, filter, want) in cases {
        assert_eq!(
            t.ids(admin, entity, filter).await,
            sorted(want),
            "{entity:?}: {filter}"
        );
    }
    // A deleted child no longer counts.
    t.store
        .delete(admin, Entity::Deal, child, None)
        .await
        .unwrap();
    assert_eq!(
        t.ids(admin, Entity::Deal, "children.stage = \"Договор\"")
            .await,
        Vec::<i64>::new()
    );
    assert_eq!(
        bad_filter(
            t.try_ids(
                admin,
                Entity::Deal,
                "parent.parent.parent.parent.title = \"x\""
            )
            .await
        )
        .0,
        "filter_too_deep"
    );
    assert_eq!(
        bad_filter(
            t.try_ids(admin, Entity::Deal, "company.colour = \"red\"")
                .await
        ),
        ("filter_unknown_field", 0)
    );
}

pub async fn filter_lists_and_errors(t: &T) {
    let (admin, m1) = (&t.fx.admin, &t.fx.m1);
    let c1 = id(&t
        .create(m1, Entity::Company, json!({"name": "Ромашка", "tags": ["VIP", "опт"], "phones": ["+7 912 345-67-89"], "emails": ["Info@Romashka.ru"], "roles": ["customer"]}))
        .await);
    let c2 = id(&t.create(m1, Entity::Company, json!({"name": "Лютик", "tags": ["ОПТ"], "phones": ["8 495 123-45-67"], "roles": ["supplier", "partner"]})).await);
    let c3 = id(&t
        .create(m1, Entity::Company, json!({"name": "Василёк"}))
        .await);
    let k1 = id(&t
        .create(m1, Entity::Contact, json!({"last_name": "Иванов"}))
        .await);
    let k2 = id(&t
        .create(m1, Entity::Contact, json!({"last_name": "Петров"}))
        .await);
    let deal = id(&t
        .create(
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": t.fx.pipeline, "contact_ids": [k1, k2]}),
        )
        .await);
    let lead = id(&t
        .create(
            m1,
            Entity::Lead,
            json!({"title": "Заявка", "phone": "8 912 345-67-89", "email": "Client@Mail.ru"}),
        )
        .await);

    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("tags = \"vip\"", vec![c1]),
        ("tags = \"VIP\"", vec![c1]),
        ("tags = \"опт\"", vec![c1, c2]),
        ("tags in (\"vip\", \"нет такого\")", vec![c1]),
        ("tags not in (\"опт\")", vec![c3]),
        ("tags != \"vip\"", vec![c2, c3]),
        ("tags is null", vec![c3]),
        ("tags is not null", vec![c1, c2]),
        ("tags ~ \"ОП\"", vec![c1, c2]),
        ("phones = \"8 912 345-67-89\"", vec![c1]),
        ("phones = \"+79123456789\"", vec![c1]),
        ("phones ~ \"495\"", vec![c2]),
        ("phones ~ \"67-89\"", vec![c1]),
        ("phones ^= \"+7912\"", vec![c1]),
        ("phones is null", vec![c3]),
        ("emails = \"INFO@romashka.ru\"", vec![c1]),
        ("emails ~ \"romashka\"", vec![c1]),
        ("roles = \"partner\"", vec![c2]),
        ("roles in (\"customer\", \"supplier\")", vec![c1, c2]),
    ];
    for (filter, want) in cases {
        assert_eq!(
            t.ids(admin, Entity::Company, filter).await,
            sorted(want),
            "companies: {filter}"
        );
    }
    assert_eq!(
        t.ids(admin, Entity::Deal, &format!("contact_ids = {k2}"))
            .await,
        [deal]
    );
    assert_eq!(
        t.ids(
            admin,
            Entity::Deal,
            &format!("contact_ids in ({k1}, 999999)")
        )
        .await,
        [deal]
    );
    assert_eq!(
        t.ids(admin, Entity::Lead, "phone = \"+7 (912) 345-67-89\"")
            .await,
        [lead]
    );
    assert_eq!(
        t.ids(admin, Entity::Lead, "phone ~ \"345 67\"").await,
        [lead]
    );
    assert_eq!(
        t.ids(admin, Entity::Lead, "phone ^= \"+7912\"").await,
        [lead]
    );

    // Errors name the problem and where it is, in characters.
    let errors: Vec<(&str, &str, usize)> = vec![
        ("nope = 1", "filter_unknown_field", 0),
        (
            "name = \"Ромашка\" and цвет = 1",
            "filter_unexpected_char",
            21,
        ),
        ("name = ", "filter_expected_value", 7),
        (
            "name = \"Ромашка\" and nope = 1",
            "filter_unknown_field",
            21,
        ),
        ("private = \"да\"", "filter_bad_value", 10),
        ("tags > \"a\"", "filter_op_unsupported", 0),
        ("name = me", "filter_bad_value", 7),
        ("created_at > \"вчера\"", "filter_bad_date", 13),
        ("owner < \"m1\"", "filter_bad_value", 8),
    ];
    for (filter, code, pos) in errors {
        assert_eq!(
            bad_filter(t.try_ids(admin, Entity::Company, filter).await),
            (code, pos),
            "{filter}"
        );
    }
    assert_eq!(
        bad_filter(t.try_ids(admin, Entity::Deal, "amount >= \"много\"").await).0,
        "filter_bad_value"
    );
    assert_eq!(
        bad_filter(t.try_ids(admin, Entity::Lead, "status = \"lost\"").await).0,
        "filter_bad_value"
    );
}
