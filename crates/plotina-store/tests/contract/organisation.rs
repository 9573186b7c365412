//! Create, get, update, delete and restore of the organisation records: pipelines,
//! stages, departments, roles, users and custom-field definitions.

use super::*;

pub async fn pipeline_and_stage_lifecycle(t: &T) {
    let (admin, m1) = (&t.fx.admin, &t.fx.m1);
    let p = t
        .create(admin, Entity::Pipeline, json!({"name": "Проекты", "code": "projects", "forbid_skip": true, "lost_reasons": ["Дорого"]}))
        .await;
    assert_eq!(
        (p["forbid_skip"].as_bool(), p["active"].as_bool()),
        (Some(true), Some(true))
    );
    let s1 = t
        .create(
            admin,
            Entity::Stage,
            json!({"pipeline_id": id(&p), "name": "Старт", "position": 0}),
        )
        .await;
    assert_eq!(s1["kind"], "open", "stage kind defaults to open");
    let s2 = t
        .create(
            admin,
            Entity::Stage,
            json!({"pipeline_id": id(&p), "name": "Финиш", "kind": "won", "position": 1}),
        )
        .await;

    // Everybody reads organisation records; only administrators change them.
    assert_eq!(t.get(m1, Entity::Pipeline, id(&p)).await.unwrap(), p);
    assert_forbidden(
        t.try_create(m1, Entity::Pipeline, json!({"name": "Моя"}))
            .await,
    );
    assert_forbidden(
        t.update(m1, Entity::Stage, id(&s1), json!({"name": "Начало"}), None)
            .await,
    );
    assert_forbidden(t.store.delete(m1, Entity::Stage, id(&s2), None).await);

    let p2 = t
        .update(
            admin,
            Entity::Pipeline,
            id(&p),
            json!({"name": "Проекты 2026", "lost_reasons": ["Дорого", "Сроки"]}),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(p2["lost_reasons"], json!(["Дорого", "Сроки"]));
    assert_invalid(
        t.update(
            admin,
            Entity::Pipeline,
            id(&p),
            json!({"lost_reasons": ["", 5]}),
            None,
        )
        .await,
        "lost_reasons",
        "lost_reasons_invalid",
    );
    assert_invalid(
        t.update(
            admin,
            Entity::Stage,
            id(&s1),
            json!({"pipeline_id": t.fx.pipeline}),
            None,
        )
        .await,
        "pipeline_id",
        "read_only",
    );
    let s1b = t
        .update(
            admin,
            Entity::Stage,
            id(&s1),
            json!({"name": "Начало", "probability": 5}),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(
        fields_of(&t.history(Entity::Stage, id(&s1)).await, "update"),
        set(&["name", "probability"])
    );

    // Stages and pipelines in use by a live deal cannot go.
    let deal = t
        .create(
            m1,
            Entity::Deal,
            json!({"title": "Проект", "pipeline_id": id(&p)}),
        )
        .await;
    assert_eq!(deal["stage_id"], json!(id(&s1)));
    assert_conflict(
        t.store.delete(admin, Entity::Stage, id(&s1), None).await,
        "id",
        "stage_in_use",
    );
    assert_conflict(
        t.store.delete(admin, Entity::Pipeline, id(&p), None).await,
        "id",
        "pipeline_in_use",
    );
    trash_round_trip(t, admin, Entity::Stage, &s2).await;
    t.store
        .delete(admin, Entity::Deal, id(&deal), None)
        .await
        .unwrap();
    trash_round_trip(t, admin, Entity::Stage, &s1b).await;
    trash_round_trip(t, admin, Entity::Pipeline, &p2).await;
}

pub async fn department_role_and_user_lifecycle(t: &T) {
    let (admin, m1, fx) = (&t.fx.admin, &t.fx.m1, &t.fx);
    // Departments: a tree without cycles.
    let d = t
        .create(
            admin,
            Entity::Department,
            json!({"name": "Продажи Сибирь", "parent_id": fx.sales_dept, "head_id": m1.user_id}),
        )
        .await;
    assert_eq!(t.get(m1, Entity::Department, id(&d)).await.unwrap(), d);
    assert_conflict(
        t.update(
            admin,
            Entity::Department,
            fx.sales_dept,
            json!({"parent_id": fx.ural_dept}),
            None,
        )
        .await,
        "parent_id",
        "parent_cycle",
    );
    assert_conflict(
        t.update(
            admin,
            Entity::Department,
            fx.sales_dept,
            json!({"parent_id": fx.sales_dept}),
            None,
        )
        .await,
        "parent_id",
        "parent_cycle",
    );
    assert_conflict(
        t.store
            .delete(admin, Entity::Department, fx.sales_dept, None)
            .await,
        "id",
        "department_in_use",
    );
    assert_forbidden(
        t.try_create(m1, Entity::Department, json!({"name": "Своя"}))
            .await,
    );
    let d2 = t
        .update(
            admin,
            Entity::Department,
            id(&d),
            json!({"name": "Продажи Сибирь и ДВ"}),
            Some(1),
        )
        .await
        .unwrap();

    // Roles: permissions are validated and normalised.
    assert_invalid(
        t.try_create(
            admin,
            Entity::Role,
            json!({"name": "Космонавт", "permissions": {"spaceship": {"read": "all"}}}),
        )
        .await,
        "permissions",
        "permissions_unknown_entity",
    );
    let r = t
        .create(admin, Entity::Role, json!({"name": "Стажёр", "code": "intern", "permissions": {"deal": {"read": "own", "create": "own"}}}))
        .await;
    assert_eq!(
        r["permissions"],
        json!({"deal": {"read": "own", "create": "own"}})
    );
    assert_conflict(
        t.try_create(
            admin,
            Entity::Role,
            json!({"name": "Другой", "code": "intern"}),
        )
        .await,
        "code",
        "code_taken",
    );
    let r2 = t
        .update(
            admin,
            Entity::Role,
            id(&r),
            json!({"name": "Стажёр продаж"}),
            Some(1),
        )
        .await
        .unwrap();

    // Users: logins are unique, defaults filled, users are deactivated rather than deleted.
    let u = t
        .create(admin, Entity::User, json!({"login": "intern1", "name": "Стажёр Один", "role_id": id(&r), "department_id": id(&d), "email": "intern@plotina.ru"}))
        .await;
    assert_eq!(
        (
            u["active"].as_bool(),
            u["language"].as_str(),
            u["time_zone"].as_str()
        ),
        (Some(true), Some("ru"), Some("Europe/Moscow"))
    );
    assert_conflict(
        t.try_create(
            admin,
            Entity::User,
            json!({"login": "intern1", "name": "Дубль", "role_id": id(&r)}),
        )
        .await,
        "login",
        "login_taken",
    );
    assert_forbidden(
        t.try_create(
            m1,
            Entity::User,
            json!({"login": "x", "name": "X", "role_id": id(&r)}),
        )
        .await,
    );
    assert_invalid(
        t.update(
            admin,
            Entity::User,
            id(&u),
            json!({"login": "intern2"}),
            None,
        )
        .await,
        "login",
        "read_only",
    );
    assert_invalid(
        t.update(
            admin,
            Entity::User,
            id(&u),
            json!({"time_zone": "Mars/Olympus"}),
            None,
        )
        .await,
        "time_zone",
        "time_zone_unknown",
    );
    let actor = auth::actor_for(t.store.pool(), id(&u))
        .await
        .unwrap()
        .expect("active user");
    assert_eq!(actor.department_subtree, [id(&d)]);
    assert_eq!(
        actor
            .permissions
            .scope(Entity::Deal, plotina_core::policy::Action::Read),
        plotina_core::policy::Scope::Own
    );
    assert_conflict(
        t.store.delete(admin, Entity::User, id(&u), None).await,
        "active",
        "user_deactivate_instead",
    );
    assert_conflict(
        t.store.delete(admin, Entity::Role, id(&r), None).await,
        "id",
        "role_in_use",
    );
    let off = t
        .update(
            admin,
            Entity::User,
            id(&u),
            json!({"active": false}),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(off["active"], json!(false));
    assert!(
        auth::actor_for(t.store.pool(), id(&u))
            .await
            .unwrap()
            .is_none(),
        "an inactive user cannot act"
    );
    assert_eq!(
        fields_of(&t.history(Entity::User, id(&u)).await, "update"),
        set(&["active"])
    );

    // Still used by the (inactive) user: move them away first.
    t.update(
        admin,
        Entity::User,
        id(&u),
        json!({"role_id": fx.roles["manager"], "department_id": fx.sales_dept}),
        None,
    )
    .await
    .unwrap();
    trash_round_trip(t, admin, Entity::Role, &r2).await;
    trash_round_trip(t, admin, Entity::Department, &d2).await;
    // Clearing the language or the time zone brings back the default.
    t.update(
        admin,
        Entity::User,
        id(&u),
        json!({"language": "en", "time_zone": "Asia/Yekaterinburg"}),
        None,
    )
    .await
    .expect("set language and zone");
    let cleared = t
        .update(
            admin,
            Entity::User,
            id(&u),
            json!({"language": null, "time_zone": null}),
            None,
        )
        .await
        .expect("cleared language and zone");
    assert_eq!(
        (cleared["language"].as_str(), cleared["time_zone"].as_str()),
        (Some("ru"), Some("Europe/Moscow"))
    );
}

pub async fn custom_field_definitions_lifecycle(t: &T) {
    let (admin, m1) = (&t.fx.admin, &t.fx.m1);
    assert_invalid(
        t.try_create(
            admin,
            Entity::CustomField,
            json!({"entity": "deal", "key": "Bad Key", "label": "Плохой", "kind": "text"}),
        )
        .await,
        "key",
        "custom_key_invalid",
    );
    assert_invalid(
        t.try_create(
            admin,
            Entity::CustomField,
            json!({"entity": "deal", "key": "region", "label": "Регион", "kind": "select"}),
        )
        .await,
        "options",
        "options_required",
    );
    assert_invalid(
        t.try_create(
            admin,
            Entity::CustomField,
            json!({"entity": "user", "key": "x", "label": "X", "kind": "text"}),
        )
        .await,
        "entity",
        "select_unknown",
    );
    let f = t
        .create(admin, Entity::CustomField, json!({"entity": "deal", "key": "region", "label": "Регион", "kind": "select", "options": ["Урал", "Сибирь"]}))
        .await;
    assert_eq!(f["options"], json!(["Урал", "Сибирь"]));
    assert_conflict(
        t.try_create(
            admin,
            Entity::CustomField,
            json!({"entity": "deal", "key": "region", "label": "Ещё", "kind": "text"}),
        )
        .await,
        "key",
        "custom_key_taken",
    );
    // The same key on another entity is another field.
    t.create(
        admin,
        Entity::CustomField,
        json!({"entity": "company", "key": "region", "label": "Регион", "kind": "text"}),
    )
    .await;
    assert_forbidden(
        t.try_create(
            m1,
            Entity::CustomField,
            json!({"entity": "deal", "key": "mine", "label": "Моё", "kind": "text"}),
        )
        .await,
    );

    // Definitions take effect at once (the store's cache is refreshed).
    let deal = t.create(m1, Entity::Deal, json!({"title": "С регионом", "pipeline_id": t.fx.pipeline, "custom": {"region": "Урал"}})).await;
    assert_eq!(deal["custom"], json!({"region": "Урал"}));
    let f2 = t
        .update(
            admin,
            Entity::CustomField,
            id(&f),
            json!({"options": ["Урал", "Сибирь", "Центр"], "label": "Регион продаж"}),
            Some(1),
        )
        .await
        .unwrap();
    t.update(
        m1,
        Entity::Deal,
        id(&deal),
        json!({"custom": {"region": "Центр"}}),
        None,
    )
    .await
    .unwrap();
    assert_invalid(
        t.update(
            admin,
            Entity::CustomField,
            id(&f),
            json!({"kind": "text"}),
            None,
        )
        .await,
        "kind",
        "read_only",
    );
    assert_invalid(
        t.update(
            admin,
            Entity::CustomField,
            id(&f),
            json!({"options": []}),
            None,
        )
        .await,
        "options",
        "options_required",
    );

    trash_round_trip(t, admin, Entity::CustomField, &f2).await;
    t.store
        .delete(admin, Entity::CustomField, id(&f), None)
        .await
        .unwrap();
    assert_invalid(
        t.update(
            m1,
            Entity::Deal,
            id(&deal),
            json!({"custom": {"region": "Урал"}}),
            None,
        )
        .await,
        "custom.region",
        "unknown_field",
    );
}
