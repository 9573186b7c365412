//! Create, get, update, delete and restore of the business records, with each
//! entity's own rules.

use super::*;

pub async fn company_lifecycle(t: &T) {
    let m1 = &t.fx.m1;
    let c = t
        .create(
            m1,
            Entity::Company,
            json!({
                "name": " ООО «Ромашка» ",
                "legal_name": "Общество с ограниченной ответственностью «Ромашка»",
                "inn": " 7707083893 ",
                "kpp": "7707ab001",
                "industry": "retail",
                "roles": ["customer", "partner", "customer"],
                "addresses": [{"kind": "legal", "value": "Москва, ул. Ленина, 1"}],
                "phones": ["8 (912) 345-67-89", "+7 912 345 67 89"],
                "emails": ["Info@Romashka.RU"],
                "website": "romashka.ru",
                "tags": ["VIP", "опт"],
                "description": "Крупный клиент\nс филиалами",
            }),
        )
        .await;
    assert_eq!(c["name"], "ООО «Ромашка»");
    assert_eq!(c["inn"], "7707083893");
    assert_eq!(c["kpp"], "7707AB001");
    assert_eq!(c["roles"], json!(["customer", "partner"]));
    assert_eq!(c["phones"], json!(["+79123456789"]));
    assert_eq!(c["emails"], json!(["Info@romashka.ru"]));
    assert_eq!(c["website"], "https://romashka.ru/");
    assert_eq!(
        c["addresses"],
        json!([{"kind": "legal", "value": "Москва, ул. Ленина, 1"}])
    );
    assert_eq!(c["private"], json!(false));
    assert_eq!(c["owner_id"], json!(m1.user_id));
    assert_eq!(c["created_by"], json!(m1.user_id));
    assert_eq!(c["updated_by"], json!(m1.user_id));
    assert_eq!(version(&c), 1);
    assert_eq!(c["custom"], json!({}));
    assert!(c["created_at"].is_string() && c["deleted_at"].is_null());

    let got = t.get(m1, Entity::Company, id(&c)).await.unwrap();
    assert_eq!(got, c, "get returns what create returned");
    let created = fields_of(&t.history(Entity::Company, id(&c)).await, "create");
    for f in ["name", "inn", "kpp", "phones", "tags", "owner_id"] {
        assert!(created.contains(f), "create history has {f}: {created:?}");
    }

    let u = t
        .update(
            m1,
            Entity::Company,
            id(&c),
            json!({"industry": "wholesale", "kpp": null, "tags": ["VIP"]}),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(version(&u), 2);
    assert_eq!(u["industry"], "wholesale");
    assert!(u["kpp"].is_null());
    assert_eq!(u["tags"], json!(["VIP"]));
    assert_eq!(u["name"], c["name"], "untouched fields keep their values");
    assert_eq!(
        t.get(&t.fx.admin, Entity::Company, id(&c)).await.unwrap(),
        u
    );

    // A manager may not delete companies; a head of department may.
    assert_forbidden(t.store.delete(m1, Entity::Company, id(&c), None).await);
    trash_round_trip(t, &t.fx.head, Entity::Company, &u).await;
}

pub async fn contact_lifecycle(t: &T) {
    let m1 = &t.fx.m1;
    let company = t
        .create(m1, Entity::Company, json!({"name": "Лютик"}))
        .await;
    let c = t
        .create(
            m1,
            Entity::Contact,
            json!({
                "last_name": "Иванов", "first_name": "Иван", "middle_name": "Иванович",
                "position": "Директор",
                "companies": [{"company_id": id(&company), "role": "CEO"}],
                "phones": "+7 912 000-00-01",
                "emails": ["ivan@lutik.ru"],
                "birthday": "01.02.1980",
                "messengers": {"telegram": "@ivan"},
            }),
        )
        .await;
    assert_eq!(c["full_name"], "Иванов Иван Иванович");
    assert_eq!(c["phones"], json!(["+79120000001"]));
    assert_eq!(c["birthday"], "1980-02-01");
    assert_eq!(
        c["companies"],
        json!([{"company_id": id(&company), "role": "CEO"}])
    );
    assert_eq!(c["messengers"], json!({"telegram": "@ivan"}));
    assert_eq!(t.get(m1, Entity::Contact, id(&c)).await.unwrap(), c);

    let u = t
        .update(
            m1,
            Entity::Contact,
            id(&c),
            json!({"first_name": "Пётр", "middle_name": null}),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(u["full_name"], "Иванов Пётр");
    let changed = fields_of(&t.history(Entity::Contact, id(&c)).await, "update");
    assert_eq!(changed, set(&["first_name", "middle_name", "full_name"]));

    assert_invalid(
        t.update(
            m1,
            Entity::Contact,
            id(&c),
            json!({"first_name": null, "last_name": ""}),
            None,
        )
        .await,
        "last_name",
        "contact_name_required",
    );
    assert_invalid(
        t.try_create(m1, Entity::Contact, json!({"position": "Никто"}))
            .await,
        "first_name",
        "contact_name_required",
    );
    assert_eq!(
        t.ids(
            m1,
            Entity::Contact,
            &format!("companies = {}", id(&company))
        )
        .await,
        [id(&c)]
    );

    assert_forbidden(t.store.delete(m1, Entity::Contact, id(&c), None).await);
    trash_round_trip(t, &t.fx.head, Entity::Contact, &u).await;
}

pub async fn lead_lifecycle(t: &T) {
    let m1 = &t.fx.m1;
    let l = t
        .create(
            m1,
            Entity::Lead,
            json!({"title": "Заявка с сайта", "phone": "8 912 111-22-33", "email": "Client@Mail.RU",
                   "inn": "500100732259", "amount": "15 000,5", "company_name": "ИП Петров"}),
        )
        .await;
    assert_eq!(l["status"], "new");
    assert_eq!(l["source"], "manual");
    assert_eq!(l["phone"], "+79121112233");
    assert_eq!(l["email"], "Client@mail.ru");
    assert_eq!(l["amount"], "15000.50");
    assert_eq!(t.get(m1, Entity::Lead, id(&l)).await.unwrap(), l);

    let before = t.counts().await;
    assert_invalid(
        t.update(m1, Entity::Lead, id(&l), json!({"status": "junk"}), None)
            .await,
        "junk_reason",
        "junk_reason_required",
    );
    assert_conflict(
        t.update(
            m1,
            Entity::Lead,
            id(&l),
            json!({"status": "converted"}),
            None,
        )
        .await,
        "status",
        "lead_convert_via_conversion",
    );
    assert_eq!(t.counts().await, before);

    let u = t
        .update(
            m1,
            Entity::Lead,
            id(&l),
            json!({"status": "junk", "junk_reason": "Спам", "source": "web_form"}),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(
        (u["status"].as_str(), u["junk_reason"].as_str(), version(&u)),
        (Some("junk"), Some("Спам"), 2)
    );
    assert_eq!(
        t.ids(
            m1,
            Entity::Lead,
            "status = \"junk\" and source = \"web_form\""
        )
        .await,
        [id(&l)]
    );

    assert_forbidden(t.store.delete(m1, Entity::Lead, id(&l), None).await);
    trash_round_trip(t, &t.fx.admin, Entity::Lead, &u).await;
}

pub async fn deal_lifecycle(t: &T) {
    let (m1, fx) = (&t.fx.m1, &t.fx);
    let company = t
        .create(m1, Entity::Company, json!({"name": "Ромашка"}))
        .await;
    let d = t
        .create(
            m1,
            Entity::Deal,
            json!({"title": "Поставка оборудования", "pipeline_id": fx.pipeline, "amount": "1 500 000",
                   "close_date": "2030-01-15", "company_id": id(&company)}),
        )
        .await;
    assert_eq!(
        d["stage_id"],
        json!(fx.stage("Новая")),
        "a new deal starts in the first stage"
    );
    assert_eq!(
        d["probability"],
        json!(10),
        "probability comes from the stage"
    );
    assert_eq!(d["amount"], "1500000.00");
    assert_eq!(d["currency"], "RUB");
    assert_eq!(d["owner_id"], json!(m1.user_id));
    assert!(d["stage_changed_at"].is_string() && d["closed_at"].is_null());
    assert_eq!(t.get(m1, Entity::Deal, id(&d)).await.unwrap(), d);
    assert_eq!(t.stage_moves(id(&d)).await, [(None, fx.stage("Новая"))]);

    let u = t
        .update(
            m1,
            Entity::Deal,
            id(&d),
            json!({"stage_id": fx.stage("Переговоры")}),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(u["probability"], json!(60));
    let won = t
        .update(
            m1,
            Entity::Deal,
            id(&d),
            json!({"stage_id": fx.stage("Успешно"), "amount": 1600000}),
            None,
        )
        .await
        .unwrap();
    assert!(won["closed_at"].is_string(), "a won deal is closed");
    assert_eq!(won["amount"], "1600000.00");
    assert_eq!(
        t.stage_moves(id(&d)).await,
        [
            (None, fx.stage("Новая")),
            (Some(fx.stage("Новая")), fx.stage("Переговоры")),
            (Some(fx.stage("Переговоры")), fx.stage("Успешно"))
        ]
    );
    let reopened = t
        .update(
            m1,
            Entity::Deal,
            id(&d),
            json!({"stage_id": fx.stage("Договор")}),
            None,
        )
        .await
        .unwrap();
    assert!(
        reopened["closed_at"].is_null(),
        "a reopened deal is open again"
    );

    // A manager edits own deals but may not delete them; an administrator may.
    assert_forbidden(t.store.delete(m1, Entity::Deal, id(&d), None).await);
    trash_round_trip(t, &t.fx.admin, Entity::Deal, &reopened).await;
}

pub async fn activity_lifecycle(t: &T) {
    let (m1, m2) = (&t.fx.m1, &t.fx.m2);
    let deal = t
        .create(
            m1,
            Entity::Deal,
            json!({"title": "Сделка", "pipeline_id": t.fx.pipeline}),
        )
        .await;
    let task = t
        .create(
            m1,
            Entity::Activity,
            json!({"kind": "task", "subject": "Подготовить КП", "due_at": "2030-01-01T10:00:00+03:00",
                   "deal_id": id(&deal), "assignee_id": m2.user_id}),
        )
        .await;
    assert_eq!(task["due_at"], "2030-01-01T07:00:00.000Z");
    assert_eq!(
        (task["owner_id"].as_i64(), task["assignee_id"].as_i64()),
        (Some(m1.user_id), Some(m2.user_id))
    );
    assert_eq!(task["done"], json!(false));
    // "Own" covers the owner and the assignee.
    assert_eq!(t.get(m2, Entity::Activity, id(&task)).await.unwrap(), task);
    assert_eq!(
        t.ids(m2, Entity::Activity, "assignee = me").await,
        [id(&task)]
    );

    let call = t
        .create(
            m1,
            Entity::Activity,
            json!({"kind": "call", "direction": "outgoing", "subject": "Звонок"}),
        )
        .await;
    assert_eq!(
        call["assignee_id"],
        json!(m1.user_id),
        "the assignee defaults to the owner"
    );
    assert_not_found(t.get(m2, Entity::Activity, id(&call)).await);

    let done = t
        .update(
            m2,
            Entity::Activity,
            id(&task),
            json!({"done": true, "result": "Отправлено"}),
            Some(1),
        )
        .await
        .unwrap();
    assert!(done["done_at"].is_string());
    let undone = t
        .update(
            m2,
            Entity::Activity,
            id(&task),
            json!({"done": false}),
            Some(2),
        )
        .await
        .unwrap();
    assert!(undone["done_at"].is_null());
    assert_invalid(
        t.try_create(m1, Entity::Activity, json!({"kind": "telegram"}))
            .await,
        "kind",
        "select_unknown",
    );

    trash_round_trip(t, m1, Entity::Activity, &call).await;
}
