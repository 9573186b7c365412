//! Imports on every backend: real-looking files generated here (Windows-1251 CSV with
//! `;`, XLSX with merged header cells, Bitrix24- and amoCRM-style exports), expected
//! counts written out by hand, undo checked against table checksums, malformed files.

use std::io::Write;
use std::path::{Path, PathBuf};

use plotina_core::error::DomainError;
use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_store::copy::checksums;
use plotina_store::import::{self, ColumnMap, ImportReport, ImportRequest, OnDuplicate, Preset};
use plotina_store::testing::{self, Fixtures, TestDb};
use plotina_store::{Store, StoreError};
use serde_json::{json, Map, Value as Json};

struct T {
    store: Store,
    fx: Fixtures,
    dir: tempfile::TempDir,
    _db: TestDb,
}

async fn each(
    f: impl for<'a> Fn(&'a T) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>,
) {
    for db in testing::all().await {
        let name = db.name();
        let (store, fx) = testing::seeded_store(&db).await;
        let t = T {
            store,
            fx,
            dir: tempfile::tempdir().expect("temp dir"),
            _db: db,
        };
        eprintln!("--- backend {name}");
        f(&t).await;
    }
}

impl T {
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).expect("write test file");
        p
    }

    async fn import(
        &self,
        actor: &Actor,
        entity: Entity,
        path: &Path,
        dry_run: bool,
        on_duplicate: OnDuplicate,
        preset: Option<Preset>,
    ) -> Result<ImportReport, StoreError> {
        let req = ImportRequest {
            entity,
            file_name: path.file_name().unwrap().to_string_lossy().into(),
            dry_run,
            on_duplicate,
            preset,
            columns: None,
            per_row: false,
        };
        import::run(&self.store, actor, path, &req, &|_| {}).await
    }

    async fn create(&self, entity: Entity, body: Json) -> Map<String, Json> {
        let body: Map<String, Json> = body.as_object().unwrap().clone();
        self.store
            .create(&self.fx.admin, entity, &body, None)
            .await
            .expect("create")
            .0
    }

    /// Checksums of every table but the import's own bookkeeping.
    async fn base(&self) -> Vec<(String, u64, String)> {
        checksums(self.store.pool())
            .await
            .expect("checksums")
            .into_iter()
            .filter(|c| !c.table.starts_with("import_") && c.table != "export_log")
            .map(|c| (c.table.to_string(), c.rows, c.checksum))
            .collect()
    }

    async fn count(&self, table: &str) -> i64 {
        testing::row_count(self.store.pool(), table).await
    }
}

fn counts(r: &ImportReport) -> (u64, u64, u64, u64, u64) {
    (r.rows_total, r.created, r.updated, r.skipped, r.rejected)
}

fn problems(r: &ImportReport) -> Vec<(u64, Option<&str>, &str)> {
    r.problems
        .iter()
        .map(|p| (p.row, p.column.as_deref(), p.code.as_str()))
        .collect()
}

fn bad_request(r: Result<ImportReport, StoreError>) -> &'static str {
    match r {
        Err(StoreError::Domain(DomainError::BadRequest(fe))) => fe.code,
        other => panic!("expected a refused file, got {other:?}"),
    }
}

fn cp1251(s: &str) -> Vec<u8> {
    encoding_rs::WINDOWS_1251.encode(s).0.into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_1251_csv_companies_dry_run_import_and_undo() {
    each(|t| {
        Box::pin(async move {
            t.create(
                Entity::Company,
                json!({"name": "ООО «Техно-Сервис»", "inn": "7736050003"}),
            )
            .await;
            let csv = "Название;ИНН;Телефон;E-mail;Сфера деятельности;Ответственный\r\n\
                ООО «Ромашка»;7707083893;+7 495 123-45-67;info@romashka.ru;Розница;m1\r\n\
                ЗАО \"Лютик\";500100732259;8 (912) 000-11-22;;Опт;\r\n\
                Ромашка ООО;;;;;\r\n\
                Василёк;123;;;;\r\n\
                Берёзка;;;не-почта;;\r\n\
                ТЕХНО-СЕРВИС;;;;;\r\n\
                Ландыш;;;;;nobody\r\n";
            let path = t.file("клиенты.csv", &cp1251(csv));
            let before = t.base().await;

            let dry = t
                .import(&t.fx.admin, Entity::Company, &path, true, OnDuplicate::Skip, None)
                .await
                .expect("dry run");
            assert_eq!(dry.status, "dry_run");
            // 7 rows: 2 new, «Ромашка ООО» (same name as row 2) and «ТЕХНО-СЕРВИС» (in the
            // base) skipped, bad INN, bad e-mail and an unknown owner rejected.
            assert_eq!(counts(&dry), (7, 2, 0, 2, 3));
            assert_eq!(
                problems(&dry),
                [
                    (5, Some("ИНН"), "inn_length"),
                    (6, Some("E-mail"), "email_invalid"),
                    (8, Some("Ответственный"), "import_user_unknown"),
                ]
            );
            assert_eq!(t.base().await, before, "a dry run changes nothing");
            let rejected = import::rejects(&t.store, &t.fx.admin, dry.batch_id, 0, 100)
                .await
                .unwrap();
            assert_eq!(rejected.len(), 3);
            assert_eq!(rejected[0].1[0], "Василёк");

            let done = t
                .import(&t.fx.admin, Entity::Company, &path, false, OnDuplicate::Skip, None)
                .await
                .expect("import");
            assert_eq!(counts(&done), (7, 2, 0, 2, 3));
            assert_eq!(t.count("companies").await, 3);
            let list = t
                .store
                .list(&t.fx.admin, Entity::Company, &Default::default())
                .await
                .unwrap();
            let romashka = list
                .data
                .iter()
                .find(|c| c["inn"] == "7707083893")
                .expect("imported company");
            assert_eq!(romashka["name"], "ООО «Ромашка»");
            assert_eq!(romashka["phones"], json!(["+74951234567"]));
            assert_eq!(romashka["owner_id"], json!(t.fx.m1.user_id));
            assert_eq!(romashka["industry"], "Розница");

            let b = import::undo(&t.store, &t.fx.admin, done.batch_id)
                .await
                .expect("undo");
            assert_eq!(b.status, "undone");
            assert_eq!(t.base().await, before, "undo restores the base exactly");
            let again = import::undo(&t.store, &t.fx.admin, done.batch_id).await;
            assert!(matches!(
                again,
                Err(StoreError::Domain(DomainError::Conflict(ref e))) if e.code == "import_not_undoable"
            ));
            // Another user's batch is not even visible.
            assert!(matches!(
                import::batch(&t.store, &t.fx.m1, done.batch_id).await,
                Err(StoreError::Domain(DomainError::NotFound))
            ));
        })
    })
    .await;
}

fn amocrm_contacts_xlsx(path: &Path) {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let bold = Format::new().set_bold();
    // A two-row header: «Контакт» and «Связь» merged over their columns, «Ответственный»
    // merged down over both rows.
    ws.merge_range(0, 0, 0, 2, "Контакт", &bold).unwrap();
    ws.merge_range(0, 3, 0, 4, "Связь", &bold).unwrap();
    ws.merge_range(0, 5, 1, 5, "Ответственный", &bold).unwrap();
    for (c, h) in [
        "Фамилия",
        "Имя",
        "Должность",
        "Рабочий телефон",
        "Рабочий email",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(1, c as u16, *h).unwrap();
    }
    let rows = [
        [
            "Иванов",
            "Пётр",
            "Директор",
            "+7 (912) 345-67-89",
            "petr@example.ru",
            "m2",
        ],
        [
            "Сидорова",
            "Анна",
            "Главный бухгалтер",
            "89120001122",
            "",
            "Менеджер Первый",
        ],
        ["", "", "Без имени", "", "", ""],
        ["Кузнецов", "Олег", "Снабженец", "", "oleg@example.ru", ""],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32 + 2, c as u16, *v).unwrap();
            }
        }
    }
    wb.save(path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_with_merged_headers_updates_duplicates_and_undo_restores_them() {
    each(|t| {
        Box::pin(async move {
            let existing = t
                .create(
                    Entity::Contact,
                    json!({"last_name": "Сидорова", "first_name": "Анна", "position": "Бухгалтер", "phones": ["+7 912 000-11-22"]}),
                )
                .await;
            let path = t.dir.path().join("amo.xlsx");
            amocrm_contacts_xlsx(&path);
            let done = t
                .import(
                    &t.fx.admin,
                    Entity::Contact,
                    &path,
                    false,
                    OnDuplicate::Update,
                    Some(Preset::Amocrm),
                )
                .await
                .expect("import");
            let targets: Vec<Option<&str>> =
                done.mapping.iter().map(|c| c.target.as_deref()).collect();
            assert_eq!(
                targets,
                [
                    Some("last_name"),
                    Some("first_name"),
                    Some("position"),
                    Some("phones"),
                    Some("emails"),
                    Some("owner")
                ]
            );
            // Rows 3..6 of the sheet: two new, Сидорова updated (same phone), a row
            // without a name rejected.
            assert_eq!(counts(&done), (4, 2, 1, 0, 1));
            assert_eq!(problems(&done)[0].0, 5);
            assert_eq!(problems(&done)[0].2, "contact_name_required");
            let id = existing["id"].as_i64().unwrap();
            let updated = t.store.get(&t.fx.admin, Entity::Contact, id).await.unwrap();
            assert_eq!(updated["position"], "Главный бухгалтер");
            assert_eq!(updated["owner_id"], json!(t.fx.m1.user_id));
            assert_eq!(t.count("contacts").await, 3);

            import::undo(&t.store, &t.fx.admin, done.batch_id)
                .await
                .expect("undo");
            assert_eq!(t.count("contacts").await, 1);
            let restored = t.store.get(&t.fx.admin, Entity::Contact, id).await.unwrap();
            assert_eq!(restored["position"], "Бухгалтер");
            assert_eq!(restored["owner_id"], existing["owner_id"]);
            assert_eq!(restored["phones"], existing["phones"]);
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitrix24_deals_csv_with_bom_maps_stages_and_companies() {
    each(|t| {
        Box::pin(async move {
            t.create(Entity::Company, json!({"name": "ООО «Ромашка»"})).await;
            let csv = "\u{feff}ID,Название сделки,Стадия сделки,Сумма,Валюта,Компания,Ответственный,Дата создания\n\
                101,Поставка кассовых аппаратов,Переговоры,\"1 250 000,50\",RUB,Ромашка,m1,01.02.2024 10:00:00\n\
                102,Сервисный договор,Новая,90000,RUB,Неизвестная компания,,02.02.2024 11:00:00\n\
                103,Пилотный проект,Заморожена,1000,RUB,,,03.02.2024 12:00:00\n\
                104,,Новая,1000,RUB,,,04.02.2024 12:00:00\n";
            let path = t.file("deals.csv", csv.as_bytes());
            let r = t
                .import(
                    &t.fx.admin,
                    Entity::Deal,
                    &path,
                    false,
                    OnDuplicate::Skip,
                    Some(Preset::Bitrix24),
                )
                .await
                .expect("import");
            assert_eq!(counts(&r), (4, 2, 0, 0, 2));
            assert_eq!(
                problems(&r),
                [
                    (4, Some("Стадия сделки"), "import_stage_unknown"),
                    (5, Some("Название сделки"), "required"),
                ]
            );
            let deals = t
                .store
                .list(&t.fx.admin, Entity::Deal, &Default::default())
                .await
                .unwrap();
            let d = deals
                .data
                .iter()
                .find(|d| d["title"] == "Поставка кассовых аппаратов")
                .unwrap();
            assert_eq!(d["amount"], "1250000.50");
            assert_eq!(d["stage_id"], json!(t.fx.stage("Переговоры")));
            assert!(d["company_id"].as_i64().is_some());
            assert_eq!(d["owner_id"], json!(t.fx.m1.user_id));
            assert_eq!(t.count("stage_changes").await, 2);
            import::undo(&t.store, &t.fx.admin, r.batch_id).await.unwrap();
            assert_eq!(t.count("deals").await, 0);
            assert_eq!(t.count("stage_changes").await, 0);
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_files_are_refused_and_change_nothing() {
    each(|t| {
        Box::pin(async move {
            let before = t.base().await;
            let admin = &t.fx.admin;
            let run = |p: PathBuf| async move {
                t.import(admin, Entity::Company, &p, false, OnDuplicate::Skip, None)
                    .await
            };
            assert_eq!(
                bad_request(run(t.file("empty.csv", b"")).await),
                "import_file_empty"
            );
            assert_eq!(
                bad_request(run(t.file("blank.csv", b"\r\n\r\n  \r\n")).await),
                "import_file_empty"
            );
            assert_eq!(
                bad_request(run(t.file("headers.csv", "Название;ИНН\r\n".as_bytes())).await),
                "import_file_no_rows"
            );
            let mut utf16 = vec![0xFF, 0xFE];
            for u in "Название,ИНН\nА,1\n".encode_utf16() {
                utf16.extend(u.to_le_bytes());
            }
            assert_eq!(
                bad_request(run(t.file("utf16.csv", &utf16)).await),
                "import_encoding_unknown"
            );
            let quotes = "Название,ИНН\nАльфа,7707083893\n\"Бета,1\nГамма,2\nДельта,3\n";
            assert_eq!(
                bad_request(run(t.file("quotes.csv", quotes.as_bytes())).await),
                "import_quotes_broken"
            );
            // A 50 MB cell.
            let big = t.dir.path().join("big.csv");
            {
                let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
                f.write_all("Название,Описание\nАльфа,".as_bytes()).unwrap();
                let chunk = vec![b'x'; 1 << 20];
                for _ in 0..50 {
                    f.write_all(&chunk).unwrap();
                }
                f.write_all(b"\n").unwrap();
            }
            assert_eq!(bad_request(run(big).await), "import_cell_too_large");
            // A zip bomb dressed as XLSX: 64 MB of zeros compressed to a few kilobytes.
            let bomb = t.dir.path().join("bomb.xlsx");
            {
                let f = std::fs::File::create(&bomb).unwrap();
                let mut z = zip::ZipWriter::new(f);
                z.start_file(
                    "xl/worksheets/sheet1.xml",
                    zip::write::SimpleFileOptions::default(),
                )
                .unwrap();
                let zeros = vec![0u8; 1 << 20];
                for _ in 0..64 {
                    z.write_all(&zeros).unwrap();
                }
                z.finish().unwrap();
            }
            assert_eq!(bad_request(run(bomb).await), "import_xlsx_too_large");
            assert_eq!(
                bad_request(run(t.file("junk.xlsx", b"PK\x03\x04garbage")).await),
                "import_xlsx_broken"
            );
            assert_eq!(t.base().await, before);
            assert_eq!(t.count("import_batches").await, 0);
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_mappings_and_permissions() {
    each(|t| {
        Box::pin(async move {
            let cols = vec![
                ColumnMap {
                    header: "Клиент".into(),
                    target: Some("name".into()),
                },
                ColumnMap {
                    header: "Код".into(),
                    target: Some("inn".into()),
                },
                ColumnMap {
                    header: "Прочее".into(),
                    target: None,
                },
            ];
            import::save_mapping(&t.store, &t.fx.admin, Entity::Company, "Из 1С", &cols)
                .await
                .unwrap();
            let loaded = import::load_mapping(&t.store, Entity::Company, "Из 1С")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(loaded, cols);
            let path = t.file(
                "1c.csv",
                "Прочее\tКлиент\tКод\nx\tАльфа\t7707083893\ny\tБета\t\n".as_bytes(),
            );
            let req = ImportRequest {
                entity: Entity::Company,
                file_name: "1c.csv".into(),
                dry_run: false,
                on_duplicate: OnDuplicate::Skip,
                preset: None,
                columns: Some(loaded),
                per_row: false,
            };
            let r = import::run(&t.store, &t.fx.m1, &path, &req, &|_| {})
                .await
                .unwrap();
            assert_eq!(counts(&r), (2, 2, 0, 0, 0));
            // Support may not create companies.
            let refused = import::run(&t.store, &t.fx.support, &path, &req, &|_| {}).await;
            assert!(matches!(
                refused,
                Err(StoreError::Domain(DomainError::Forbidden(_)))
            ));
            let bad = vec![ColumnMap {
                header: "Клиент".into(),
                target: Some("id".into()),
            }];
            assert!(matches!(
                import::save_mapping(&t.store, &t.fx.admin, Entity::Company, "x", &bad).await,
                Err(StoreError::Domain(DomainError::BadRequest(ref e))) if e.code == "import_target_unknown"
            ));
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_refuses_when_imported_records_were_changed_or_linked() {
    each(|t| {
        Box::pin(async move {
            let path = t.file(
                "c.csv",
                "Название,ИНН\nАльфа,7707083893\nБета,500100732259\n".as_bytes(),
            );
            let r = t
                .import(&t.fx.admin, Entity::Company, &path, false, OnDuplicate::Skip, None)
                .await
                .unwrap();
            assert_eq!(counts(&r), (2, 2, 0, 0, 0));
            let list = t
                .store
                .list(&t.fx.admin, Entity::Company, &Default::default())
                .await
                .unwrap();
            let alpha = list.data.iter().find(|c| c["name"] == "Альфа").unwrap()["id"]
                .as_i64()
                .unwrap();
            t.create(
                Entity::Deal,
                json!({"title": "Сделка", "pipeline_id": t.fx.pipeline, "company_id": alpha}),
            )
            .await;
            let before = t.base().await;
            let refused = import::undo(&t.store, &t.fx.admin, r.batch_id).await;
            assert!(
                matches!(refused, Err(StoreError::Domain(DomainError::Conflict(ref e))) if e.code == "import_undo_linked"),
                "{refused:?}"
            );
            assert_eq!(t.base().await, before, "a refused undo changes nothing");
            let body: Map<String, Json> = json!({"industry": "Опт"}).as_object().unwrap().clone();
            t.store
                .update(&t.fx.admin, Entity::Company, alpha, &body, None)
                .await
                .unwrap();
            let refused = import::undo(&t.store, &t.fx.admin, r.batch_id).await;
            assert!(
                matches!(refused, Err(StoreError::Domain(DomainError::Conflict(ref e))) if e.code == "import_undo_changed"),
                "{refused:?}"
            );
            assert_eq!(
                import::batch(&t.store, &t.fx.admin, r.batch_id).await.unwrap().status,
                "done"
            );
        })
    })
    .await;
}

/// The rows an import left about its records, with ids replaced by the file's row
/// numbers and timestamps left out: import items, the records, their history,
/// `record_lookup`, `dedup_keys` and notebook items.
async fn import_snapshot(t: &T, entity: Entity, batch: i64) -> Vec<String> {
    let mut tx = t.store.pool().begin().await.expect("begin");
    let no_values = || sea_query_binder::SqlxValues(sea_query::Values(Vec::new()));
    let items = tx
        .fetch_all_sql(
            &format!(
                "SELECT row_no, record_id, action, version, before FROM import_items \
                 WHERE batch_id = {batch} ORDER BY row_no"
            ),
            no_values(),
        )
        .await
        .expect("items");
    let mut row_of = std::collections::HashMap::new();
    let mut out = Vec::new();
    for r in &items {
        let row = r.i64("row_no").unwrap().unwrap();
        let id = r.i64("record_id").unwrap().unwrap();
        row_of.insert(id, row);
        out.push(format!(
            "item {row} {} {} {}",
            r.text("action").unwrap().unwrap(),
            r.i64("version").unwrap().unwrap(),
            r.json("before").unwrap().unwrap_or(Json::Null)
        ));
    }
    let mut ids: Vec<i64> = row_of.keys().copied().collect();
    ids.sort_unstable();
    for id in &ids {
        let mut rec = plotina_store::records::fetch_unscoped(&mut tx, entity, *id)
            .await
            .expect("record");
        for k in ["id", "created_at", "updated_at"] {
            rec.remove(k);
        }
        out.push(format!("record {} {}", row_of[id], Json::Object(rec)));
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    if list.is_empty() {
        return out;
    }
    let code = entity.code();
    let queries = [
        (
            "history",
            format!(
                "SELECT record_id, action, field, old_value, new_value, changed_by FROM history \
                 WHERE entity = '{code}' AND record_id IN ({list}) ORDER BY id"
            ),
        ),
        (
            "lookup",
            format!(
                "SELECT record_id, field, kind, value FROM record_lookup \
                 WHERE entity = '{code}' AND record_id IN ({list}) ORDER BY record_id, field, kind, value"
            ),
        ),
        (
            "key",
            format!(
                "SELECT record_id, kind, value FROM dedup_keys \
                 WHERE entity = '{code}' AND record_id IN ({list}) ORDER BY record_id, kind, value"
            ),
        ),
        (
            "notebook",
            format!(
                "SELECT record_id, kind, owner_id, text, state, dedupe_key FROM notebook_items \
                 WHERE entity = '{code}' AND record_id IN ({list}) ORDER BY id"
            ),
        ),
    ];
    for (what, sql) in queries {
        let mut lines: Vec<(i64, String)> = Vec::new();
        for r in tx.fetch_all_sql(&sql, no_values()).await.expect("rows") {
            let row = row_of[&r.i64("record_id").unwrap().unwrap()];
            let line = match what {
                "history" => format!(
                    "{} {:?} {} {} {:?}",
                    r.text("action").unwrap().unwrap(),
                    r.text("field").unwrap(),
                    r.json("old_value").unwrap().unwrap_or(Json::Null),
                    r.json("new_value").unwrap().unwrap_or(Json::Null),
                    r.i64("changed_by").unwrap()
                ),
                "lookup" => format!(
                    "{} {} {}",
                    r.text("field").unwrap().unwrap(),
                    r.text("kind").unwrap().unwrap(),
                    r.text("value").unwrap().unwrap()
                ),
                "key" => format!(
                    "{} {}",
                    r.text("kind").unwrap().unwrap(),
                    r.text("value").unwrap().unwrap()
                ),
                _ => {
                    let key = r.text("dedupe_key").unwrap().unwrap_or_default();
                    format!(
                        "{} {} {} {} {}",
                        r.text("kind").unwrap().unwrap(),
                        r.i64("owner_id").unwrap().unwrap(),
                        r.text("text").unwrap().unwrap(),
                        r.text("state").unwrap().unwrap(),
                        key.replace(
                            &format!(":{}:", r.i64("record_id").unwrap().unwrap()),
                            &format!(":row{row}:")
                        )
                    )
                }
            };
            lines.push((row, line));
        }
        // Rows in record order (ids ascend with the file in both paths), each
        // record's rows in the order they were written.
        lines.sort_by_key(|(row, _)| *row);
        out.extend(
            lines
                .into_iter()
                .map(|(row, line)| format!("{what} {row} {line}")),
        );
    }
    tx.commit().await.expect("commit");
    out
}

/// The bulk write path leaves exactly the rows of the single-record path: each file is
/// imported row by row, the result recorded and undone, then imported again in bulk;
/// the results must be equal and each undo must restore the base exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_writes_what_the_per_row_path_writes() {
    each(|t| {
        Box::pin(async move {
            t.create(
                Entity::Contact,
                json!({"last_name": "Старый", "emails": ["old@example.ru"], "phones": ["+79000000007"]}),
            )
            .await;
            // Contacts over two chunks: duplicates of the base, of earlier rows (also
            // across the chunk boundary), a bad e-mail, an extra cell, an unknown owner,
            // a row without a name.
            let mut csv = String::from("Фамилия;Имя;Телефон;E-mail;Ответственный\r\n");
            for i in 0..1300u32 {
                let line = match i {
                    5 => "Копия;Базы;;OLD@example.ru;".to_string(),
                    6 => "Копия;Телефона;8 900 000-00-07;;".to_string(),
                    7 => "Плохой;;;не-почта;".to_string(),
                    8 => "Лишний;;;;;лишняя ячейка".to_string(),
                    9 => "Чужой;;;;nobody".to_string(),
                    10 => ";;;x10@example.ru;".to_string(),
                    1005 => "Повтор;Через;;user3@example.ru;".to_string(),
                    i if i % 97 == 96 => format!("Повтор;{i};;user{}@example.ru;", i - 50),
                    i => format!(
                        "Фамилия{};Имя;+7 912 {:03}-{:02}-{:02};user{i}@example.ru;{}",
                        i % 13,
                        i / 10000,
                        i / 100 % 100,
                        i % 100,
                        if i % 3 == 0 { "m1" } else { "" }
                    ),
                };
                csv.push_str(&line);
                csv.push_str("\r\n");
            }
            let contacts = t.file("contacts.csv", csv.as_bytes());
            // Leads owned by somebody else than the importer: notebook items.
            let mut leads = String::from("Название;Контакт;E-mail;Ответственный\r\n");
            for i in 0..40 {
                leads.push_str(&format!(
                    "Заявка {i};Лицо {i};lead{}@example.ru;{}\r\n",
                    i % 30,
                    if i % 2 == 0 { "m1" } else { "" }
                ));
            }
            let leads = t.file("leads.csv", leads.as_bytes());
            let lead_columns: Vec<ColumnMap> = ["title", "contact_name", "email", "owner"]
                .iter()
                .zip(["Название", "Контакт", "E-mail", "Ответственный"])
                .map(|(target, header)| ColumnMap {
                    header: header.to_string(),
                    target: Some(target.to_string()),
                })
                .collect();
            let cases = [
                (Entity::Contact, &contacts, None, OnDuplicate::Skip),
                (Entity::Contact, &contacts, None, OnDuplicate::Create),
                (Entity::Lead, &leads, Some(lead_columns), OnDuplicate::Skip),
            ];
            for (entity, path, columns, on_duplicate) in cases {
                let before = t.base().await;
                let mut results = Vec::new();
                for per_row in [true, false] {
                    let req = ImportRequest {
                        entity,
                        file_name: "f.csv".into(),
                        dry_run: false,
                        on_duplicate,
                        preset: None,
                        columns: columns.clone(),
                        per_row,
                    };
                    let r = import::run(&t.store, &t.fx.admin, path, &req, &|_| {})
                        .await
                        .expect("import");
                    let rejects = import::rejects(&t.store, &t.fx.admin, r.batch_id, 0, 10_000)
                        .await
                        .unwrap();
                    let snap = import_snapshot(t, entity, r.batch_id).await;
                    results.push((counts(&r), r.problems.clone(), rejects, snap));
                    import::undo(&t.store, &t.fx.admin, r.batch_id)
                        .await
                        .expect("undo");
                    assert_eq!(t.base().await, before, "undo restores the base exactly");
                }
                let (bulk, single) = (results.pop().unwrap(), results.pop().unwrap());
                assert!(single.0 .1 > 0, "the file creates records");
                assert_eq!(bulk.0, single.0, "{entity:?} {on_duplicate:?}: counts");
                assert_eq!(bulk.1, single.1, "problems");
                assert_eq!(bulk.2, single.2, "rejects");
                assert_eq!(bulk.3.len(), single.3.len(), "rows written");
                for (b, s) in bulk.3.iter().zip(&single.3) {
                    assert_eq!(b, s, "{entity:?} {on_duplicate:?}");
                }
            }
        })
    })
    .await;
}

/// What the import pages use: the look at the file, the targets, the saved mappings, an
/// import prepared (batch row at once) and executed apart, with its progress on the
/// batch row after every chunk, and the list of batches each user may see.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_import_reports_progress_on_its_batch_and_is_listed() {
    each(|t| {
        Box::pin(async move {
            use plotina_store::import::pages::{self, Target};
            // 2,500 rows: chunks of 1,000, 1,000 and 500.
            let mut csv = String::from("Название;Сайт\n");
            for i in 1..=2500 {
                csv.push_str(&format!("Клиент {i};site{i}.example.ru\n"));
            }
            let path = t.file("many.csv", csv.as_bytes());
            let look = pages::preview(&path, 5, true).expect("preview");
            assert_eq!(look.headers, vec!["Название", "Сайт"]);
            assert_eq!(look.rows, 2500);
            assert_eq!(look.sample.len(), 5);
            assert_eq!(
                look.sample[0],
                (2, vec!["Клиент 1".into(), "site1.example.ru".into()])
            );
            assert_eq!(look.sample[4].0, 6, "row numbers count the header as row 1");
            let head = pages::preview(&path, 3, false).expect("preview");
            assert_eq!(
                (head.rows, head.sample.len()),
                (3, 3),
                "stops after the sample"
            );
            let only_header = t.file("header.csv", "Название;Сайт\n".as_bytes());
            assert_eq!(
                pages::preview(&only_header, 5, false).unwrap_err().code,
                "import_file_no_rows"
            );

            let targets: Vec<String> = pages::targets(&t.store, Entity::Company)
                .await
                .unwrap()
                .iter()
                .map(Target::code)
                .collect();
            for want in ["name", "inn", "phones", "website", "description", "owner"] {
                assert!(targets.contains(&want.to_string()), "{want} in {targets:?}");
            }
            assert!(
                !targets.contains(&"owner_id".to_string()),
                "ids are not typed in files"
            );
            assert!(
                !targets.contains(&"stage".to_string()),
                "a company has no stage"
            );

            let cols = vec![
                ColumnMap {
                    header: "Название".into(),
                    target: Some("name".into()),
                },
                ColumnMap {
                    header: "Сайт".into(),
                    target: Some("website".into()),
                },
            ];
            import::save_mapping(&t.store, &t.fx.m1, Entity::Company, "Б", &cols)
                .await
                .unwrap();
            import::save_mapping(&t.store, &t.fx.m1, Entity::Company, "А", &cols)
                .await
                .unwrap();
            assert_eq!(
                pages::mapping_names(&t.store, Entity::Company)
                    .await
                    .unwrap(),
                vec!["А", "Б"]
            );
            assert!(pages::mapping_names(&t.store, Entity::Deal)
                .await
                .unwrap()
                .is_empty());

            let req = ImportRequest {
                entity: Entity::Company,
                file_name: "many.csv".into(),
                dry_run: false,
                on_duplicate: OnDuplicate::Skip,
                preset: None,
                columns: Some(cols),
                per_row: false,
            };
            let prepared = import::prepare(&t.store, &t.fx.m1, &path, &req, &|_| {})
                .await
                .unwrap();
            let id = prepared.batch_id;
            let b = import::batch(&t.store, &t.fx.m1, id).await.unwrap();
            assert_eq!(
                (b.status.as_str(), b.rows_total, b.rows_done),
                ("running", 2500, 0)
            );
            assert_eq!(t.count("companies").await, 0, "prepare writes no record");

            // Progress after each chunk; `rows_done` is written only with the chunks
            // (finishing the batch leaves it alone), so its 2,500 is the last chunk's.
            let seen = std::sync::Mutex::new(Vec::new());
            let report = import::execute(&t.store, &t.fx.m1, &path, &req, prepared, &|p| {
                if p.phase == "write" {
                    seen.lock().unwrap().push(p.done);
                }
            })
            .await
            .unwrap();
            assert_eq!(*seen.lock().unwrap(), vec![1000, 2000, 2500]);
            assert_eq!(counts(&report), (2500, 2500, 0, 0, 0));
            let b = import::batch(&t.store, &t.fx.m1, id).await.unwrap();
            assert_eq!(
                (b.status.as_str(), b.rows_done, b.rows_created),
                ("done", 2500, 2500)
            );

            // A dry run is not listed; m2 sees only their own imports, the admin all.
            t.import(
                &t.fx.m1,
                Entity::Company,
                &path,
                true,
                OnDuplicate::Skip,
                None,
            )
            .await
            .unwrap();
            let ids = |v: Vec<import::Batch>| v.iter().map(|b| b.id).collect::<Vec<_>>();
            assert_eq!(
                ids(pages::batches(&t.store, &t.fx.m1, 50).await.unwrap()),
                vec![id]
            );
            assert!(pages::batches(&t.store, &t.fx.m2, 50)
                .await
                .unwrap()
                .is_empty());
            assert_eq!(
                ids(pages::batches(&t.store, &t.fx.admin, 50).await.unwrap()),
                vec![id]
            );

            // A refused file leaves no batch behind.
            let before = t.count("import_batches").await;
            let r = import::prepare(&t.store, &t.fx.m1, &only_header, &req, &|_| {}).await;
            assert!(matches!(
                r,
                Err(StoreError::Domain(DomainError::BadRequest(_)))
            ));
            assert_eq!(t.count("import_batches").await, before);
        })
    })
    .await;
}

/// Sets a batch back to `running` with no heartbeat, as a process killed after its last
/// chunk's commit leaves it (the counts are written only when a batch finishes).
async fn leave_running(t: &T, id: i64) {
    let mut tx = t.store.pool().begin_write().await.unwrap();
    tx.raw(&format!(
        "UPDATE import_batches SET status = 'running', heartbeat_at = NULL, finished_at = NULL, \
         rows_created = 0, rows_skipped = 0, rows_rejected = 0 WHERE id = {id}"
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_left_running_is_marked_interrupted_and_can_be_undone() {
    each(|t| {
        Box::pin(async move {
            // 2,500 rows in chunks of 1,000; the 2,000th has a broken INN (a reject).
            let mut csv = String::from("Название;ИНН\n");
            for i in 1..=2500 {
                let inn = if i == 2000 { "123" } else { "" };
                csv.push_str(&format!("Клиент {i};{inn}\n"));
            }
            let path = t.file("many.csv", csv.as_bytes());
            let base = t.base().await;
            let report = t
                .import(
                    &t.fx.m1,
                    Entity::Company,
                    &path,
                    false,
                    OnDuplicate::Skip,
                    None,
                )
                .await
                .unwrap();
            assert_eq!(counts(&report), (2500, 2499, 0, 0, 1));
            let id = report.batch_id;
            leave_running(t, id).await;
            let stale = chrono::Duration::seconds(import::STALE_AFTER_SECS);

            // A batch whose process is alive (fresh heartbeat) is left alone.
            let req = ImportRequest {
                entity: Entity::Company,
                file_name: "many.csv".into(),
                dry_run: false,
                on_duplicate: OnDuplicate::Create,
                preset: None,
                columns: None,
                per_row: false,
            };
            let live = import::prepare(&t.store, &t.fx.m2, &path, &req, &|_| {})
                .await
                .unwrap();

            // Undo waits until the batch is no longer running.
            match import::undo(&t.store, &t.fx.m1, id).await {
                Err(StoreError::Domain(DomainError::Conflict(e))) => {
                    assert_eq!(e.code, "import_still_running")
                }
                other => panic!("expected a conflict, got {other:?}"),
            }

            assert_eq!(
                import::recover_interrupted(&t.store, stale).await.unwrap(),
                vec![id]
            );
            let b = import::batch(&t.store, &t.fx.m1, id).await.unwrap();
            assert_eq!(b.status, "interrupted");
            assert!(b.finished_at.is_some());
            assert_eq!(
                (b.rows_done, b.rows_created, b.rows_skipped, b.rows_rejected),
                (2500, 2499, 0, 1),
                "the counts of what the committed chunks wrote"
            );
            let other = import::batch(&t.store, &t.fx.m2, live.batch_id)
                .await
                .unwrap();
            assert_eq!(other.status, "running", "a live import is not touched");
            assert!(import::recover_interrupted(&t.store, stale)
                .await
                .unwrap()
                .is_empty());

            // The process that ran the live batch is declared gone: it stops at its
            // first chunk, which is rolled back, and the batch stays interrupted.
            assert_eq!(
                import::recover_interrupted(&t.store, chrono::Duration::zero())
                    .await
                    .unwrap(),
                vec![live.batch_id]
            );
            let live_id = live.batch_id;
            match import::execute(&t.store, &t.fx.m2, &path, &req, live, &|_| {}).await {
                Err(StoreError::Domain(DomainError::Conflict(e))) => {
                    assert_eq!(e.code, "import_interrupted")
                }
                other => panic!("expected the import to stop, got {other:?}"),
            }
            let stopped = import::batch(&t.store, &t.fx.m2, live_id).await.unwrap();
            assert_eq!(
                (
                    stopped.status.as_str(),
                    stopped.rows_done,
                    stopped.rows_created
                ),
                ("interrupted", 0, 0)
            );
            assert_eq!(
                t.count("companies").await,
                2499,
                "the stopped chunk wrote nothing"
            );

            // Undo takes back what the interrupted batch committed.
            let undone = import::undo(&t.store, &t.fx.m1, id).await.unwrap();
            assert_eq!(undone.status, "undone");
            assert_eq!(t.base().await, base, "undo restores the base");
        })
    })
    .await;
}
