//! Imports through the pages: upload, the mapping step, the dry run's report and its
//! rejected rows, the import in the background with its batch page, undo; refusals.

use plotina_core::schema::Entity;
use plotina_store::import;
use plotina_store::ListParams;

use crate::helpers::{apps, Browser, Page, TestApp};

/// Companies as an old CRM exports them: Windows-1251, `;`. Row 3 (Бета) has an INN
/// whose check digit is wrong (7707083893 is right, …90 is not); «Заметка» matches no
/// field by name and is mapped by hand to the description.
const COMPANIES: &str = "Название;ИНН;Телефон;Заметка\r\n\
ООО «Альфа»;7707083893;+7 912 345-67-89;Крупный клиент\r\n\
Бета;7707083890;;Без ИНН\r\n\
Гамма;;8 (495) 123-45-67;Новый\r\n";

fn cp1251(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

/// The upload form as a browser sends it: `csrf` first (when given), then the options
/// and the file.
async fn upload(b: &Browser, csrf: Option<&str>, entity: &str, file: &[u8]) -> Page {
    let boundary = "----plotina-import-boundary";
    let mut body = Vec::new();
    let mut text = |name: &str, value: &str| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    if let Some(c) = csrf {
        text("csrf", c);
    }
    text("entity", entity);
    text("preset", "");
    text("on_duplicate", "skip");
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clients.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = b
        .client
        .post(format!("{}/imports/new", b.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Page {
        status,
        body: resp.text().await.unwrap_or_default(),
        location,
        headers,
    }
}

/// The `<select>` of a file column on the mapping step.
fn select_of<'a>(html: &'a str, header: &str) -> &'a str {
    let start = html
        .find(&format!("data-header=\"{header}\""))
        .unwrap_or_else(|| panic!("a select for {header}"));
    let end = html[start..].find("</select>").unwrap() + start;
    &html[start..end]
}

async fn companies(app: &TestApp) -> i64 {
    app.counts().await["companies"]
}

#[tokio::test]
async fn a_windows_1251_file_is_mapped_checked_imported_and_undone_through_the_pages() {
    for app in apps().await {
        let be = app.backend;
        let b = app.browser("m1").await;
        let settings = b.get("/settings").await;
        assert!(settings.has("data-testid=\"settings-imports\""), "{be}");
        let list = b.get("/imports").await;
        assert_eq!(list.status, 200, "{be}: {}", list.body);
        assert!(list.has("data-testid=\"imports-empty\""));
        let before = companies(&app).await;

        // Upload: on to the mapping step.
        let up = upload(&b, Some(&b.csrf), "companies", &cp1251(COMPANIES)).await;
        assert_eq!(up.status, 303, "{be}: {}", up.body);
        assert!(up.location.starts_with("/imports/new/"), "{}", up.location);
        let token = up.location["/imports/new/".len()..]
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let map = b.get(&up.location).await;
        assert_eq!(map.status, 200, "{be}: {}", map.body);
        assert!(map.has("Строк: 3"), "three data rows");
        assert!(
            map.has("ООО «Альфа»") && map.has("Крупный клиент"),
            "decoded from Windows-1251"
        );
        assert!(select_of(&map.body, "Название").contains(r#"value="name" selected"#));
        assert!(select_of(&map.body, "ИНН").contains(r#"value="inn" selected"#));
        assert!(select_of(&map.body, "Телефон").contains(r#"value="phones" selected"#));
        assert!(
            !select_of(&map.body, "Заметка").contains(" selected"),
            "no field is called «Заметка»: skipped unless mapped"
        );

        // The mapping with «Заметка» → description, saved by name; a dry run.
        let form = |csrf: &str| -> Vec<(String, String)> {
            [
                ("csrf", csrf),
                ("entity", "companies"),
                ("preset", ""),
                ("file_name", "clients.csv"),
                ("on_duplicate", "skip"),
                ("col", "name"),
                ("col", "inn"),
                ("col", "phones"),
                ("col", "description"),
                ("save_as", "Старая CRM"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        let pairs = form("forged");
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let forged = b.post_raw(&format!("/imports/new/{token}"), &refs).await;
        assert_eq!(forged.status, 403, "a dry run without the csrf token");
        let pairs = form(&b.csrf);
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let dry = b.post_raw(&format!("/imports/new/{token}"), &refs).await;
        assert_eq!(dry.status, 303, "{be}: {}", dry.body);
        assert!(
            dry.location.ends_with(&format!("?file={token}")),
            "{}",
            dry.location
        );
        let report = b.get(&dry.location).await;
        assert_eq!(report.status, 200, "{be}: {}", report.body);
        assert!(
            report.has(r#"data-testid="count-created">2<"#),
            "{}",
            report.body
        );
        assert!(report.has(r#"data-testid="count-rejected">1<"#));
        assert!(report.has(r#"data-testid="count-total">3<"#));
        let problem = report
            .body
            .split(r#"data-testid="problem" data-row="3""#)
            .nth(1)
            .expect("row 3 is reported")
            .split("</tr>")
            .next()
            .unwrap();
        assert!(problem.contains(">ИНН<"), "{problem}");
        assert!(
            problem.contains("Неверный ИНН: не сходится контрольное число"),
            "{problem}"
        );
        assert_eq!(companies(&app).await, before, "a dry run writes nothing");
        let saved = import::load_mapping(&app.store, Entity::Company, "Старая CRM")
            .await
            .unwrap()
            .expect("saved mapping");
        assert_eq!(saved[3].header, "Заметка");
        assert_eq!(saved[3].target.as_deref(), Some("description"));

        let dry_id: i64 = dry.location["/imports/".len()..]
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let rejects = b.get(&format!("/imports/{dry_id}/rejects")).await;
        assert_eq!(rejects.status, 200);
        let lines: Vec<&str> = rejects
            .body
            .trim_start_matches('\u{feff}')
            .lines()
            .collect();
        assert_eq!(lines.len(), 2, "{}", rejects.body);
        assert_eq!(lines[0], "Название;ИНН;Телефон;Заметка;Ошибки");
        assert_eq!(
            lines[1],
            "Бета;7707083890;;Без ИНН;ИНН: Неверный ИНН: не сходится контрольное число"
        );

        // The import: its batch page, then the result.
        let dry_s = dry_id.to_string();
        let run = b
            .post(&format!("/imports/new/{token}/run"), &[("dry", &dry_s)])
            .await;
        assert_eq!(run.status, 303, "{be}: {}", run.body);
        let batch_path = run.location.clone();
        let id: i64 = batch_path["/imports/".len()..].parse().unwrap();
        let mut page = b.get(&batch_path).await;
        for _ in 0..100 {
            if !page.has(r#"data-testid="import-progress""#) {
                break;
            }
            assert!(page.has("<progress"), "a progress bar while running");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            page = b.get(&batch_path).await;
        }
        assert!(page.has(r#"data-status="done""#), "{be}: {}", page.body);
        assert!(page.has(r#"data-testid="count-created">2<"#));
        assert!(page.has(r#"data-testid="count-rejected">1<"#));
        assert!(page.has(r#"data-testid="import-undo""#));
        assert_eq!(companies(&app).await, before + 2);
        let status = b.get(&format!("/api/v1/imports/{id}")).await;
        let status: serde_json::Value = serde_json::from_str(&status.body).unwrap();
        assert_eq!(status["rows_done"], 3, "{status}");
        assert_eq!(status["rows_created"], 2);
        let alfa = app
            .store
            .list(
                &app.fx.m1,
                Entity::Company,
                &ListParams {
                    filter: Some("inn = \"7707083893\"".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(alfa.data.len(), 1);
        assert_eq!(
            alfa.data[0]["description"], "Крупный клиент",
            "the remapped column"
        );
        assert_eq!(alfa.data[0]["phones"][0], "+79123456789");

        // The file was claimed: a second click imports nothing.
        let again = b
            .post(&format!("/imports/new/{token}/run"), &[("dry", &dry_s)])
            .await;
        assert_eq!(again.status, 400);
        assert!(again.has("Загруженного файла уже нет"), "{}", again.body);
        assert_eq!(companies(&app).await, before + 2);

        let list = b.get("/imports").await;
        assert!(list.has(&format!(r#"data-batch-id="{id}" data-status="done""#)));
        assert!(
            !list.has(&format!(r#"data-batch-id="{dry_id}""#)),
            "dry runs are not listed"
        );

        // Someone else's batch does not exist for them.
        let m2 = app.browser("m2").await;
        assert_eq!(m2.get(&batch_path).await.status, 404);
        assert_eq!(
            m2.post(&format!("/imports/{id}/undo"), &[]).await.status,
            404
        );

        // Undo: refused without the token, then the whole batch.
        let forged = b
            .post_raw(&format!("/imports/{id}/undo"), &[("csrf", "forged")])
            .await;
        assert_eq!(forged.status, 403);
        assert_eq!(companies(&app).await, before + 2);
        let undone = b.post(&format!("/imports/{id}/undo"), &[]).await;
        assert_eq!(undone.status, 303, "{be}: {}", undone.body);
        assert_eq!(companies(&app).await, before, "undo restores the count");
        let page = b.get(&undone.location).await;
        assert!(page.has(r#"data-testid="import-undone""#) && page.has("Импорт № "));
        assert!(!page.has(r#"data-testid="import-undo""#));
        let list = b.get("/imports").await;
        assert!(list.has(&format!(r#"data-batch-id="{id}" data-status="undone""#)));
        let twice = b.post(&format!("/imports/{id}/undo"), &[]).await;
        assert_eq!(twice.status, 409);
    }
}

#[tokio::test]
async fn bad_files_and_missing_rights_are_refused_with_a_message() {
    for app in apps().await {
        let be = app.backend;
        let before = app.counts().await;
        let b = app.browser("m1").await;
        let cases: [(&[u8], &str); 3] = [
            (b"", "Файл пуст"),
            ("Название;ИНН\r\n".as_bytes(), "нет ни одной строки данных"),
            (
                "Название;ИНН\n\"Альфа;1\nБета;2\n".as_bytes(),
                "Непарная кавычка",
            ),
        ];
        for (file, message) in cases {
            let page = upload(&b, Some(&b.csrf), "companies", file).await;
            assert_eq!(page.status, 400, "{be} {message}: {}", page.body);
            assert!(page.has(message), "{message}: {}", page.body);
            assert!(page.has(r#"data-testid="import-upload""#), "the form again");
        }
        let no_token = upload(&b, None, "companies", COMPANIES.as_bytes()).await;
        assert_eq!(no_token.status, 403, "an upload without the csrf token");
        let planets = upload(&b, Some(&b.csrf), "planets", COMPANIES.as_bytes()).await;
        assert_eq!(planets.status, 400);

        // Support may not create companies: not offered, and refused when forced.
        let support = app.browser("support").await;
        let form = support.get("/imports/new").await;
        assert_eq!(form.status, 200);
        assert!(!form.has(r#"<option value="companies""#), "{}", form.body);
        assert!(form.has(r#"<option value="contacts""#));
        let refused = upload(
            &support,
            Some(&support.csrf),
            "companies",
            COMPANIES.as_bytes(),
        )
        .await;
        assert_eq!(refused.status, 403, "{be}");
        let after = app.counts().await;
        for t in ["companies", "import_batches", "import_rejects"] {
            assert_eq!(after[t], before[t], "{t}: nothing was written");
        }
    }
}

#[tokio::test]
async fn an_import_left_running_by_a_stopped_server_shows_as_interrupted_and_can_be_undone() {
    for app in apps().await {
        let be = app.backend;
        let before = companies(&app).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("companies.csv");
        std::fs::write(&path, cp1251(COMPANIES)).unwrap();
        let req = import::ImportRequest {
            entity: Entity::Company,
            file_name: "companies.csv".into(),
            dry_run: false,
            on_duplicate: import::OnDuplicate::Skip,
            preset: None,
            columns: None,
            per_row: false,
        };
        let report = import::run(&app.store, &app.fx.m1, &path, &req, &|_| {})
            .await
            .unwrap();
        let id = report.batch_id;
        assert_eq!(companies(&app).await, before + 2, "{be}");
        // What a server killed after the last chunk's commit leaves behind.
        let mut tx = app.store.pool().begin_write().await.unwrap();
        tx.raw(&format!(
            "UPDATE import_batches SET status = 'running', heartbeat_at = NULL, \
             finished_at = NULL, rows_created = 0, rows_rejected = 0 WHERE id = {id}"
        ))
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let b = app.browser("m1").await;
        let page = b.get(&format!("/imports/{id}")).await;
        assert!(page.has(r#"data-testid="import-progress""#), "{be}");
        let refused = b.post(&format!("/imports/{id}/undo"), &[]).await;
        assert_eq!(refused.status, 409, "{be}: {}", refused.body);

        // The server's start finds it.
        assert_eq!(
            plotina_server::import_job::run_once(&app.store)
                .await
                .unwrap(),
            vec![id]
        );
        let page = b.get(&format!("/imports/{id}")).await;
        assert_eq!(page.status, 200, "{be}: {}", page.body);
        assert!(
            page.has(r#"data-status="interrupted""#),
            "{be}: {}",
            page.body
        );
        assert!(page.has(r#"data-testid="import-interrupted""#));
        assert!(
            page.has("Импорт прерван (сервер остановился): записано 3 из 3 строк"),
            "{}",
            page.body
        );
        assert!(page.has(r#"data-testid="count-created">2<"#));
        assert!(page.has(r#"data-testid="count-rejected">1<"#));
        assert!(page.has(r#"data-testid="import-undo""#));
        let list = b.get("/imports").await;
        assert!(list.has(&format!(
            r#"data-batch-id="{id}" data-status="interrupted""#
        )));
        assert!(list.has(">Прерван<"), "{}", list.body);

        let undone = b.post(&format!("/imports/{id}/undo"), &[]).await;
        assert_eq!(undone.status, 303, "{be}: {}", undone.body);
        assert_eq!(companies(&app).await, before, "undo restores the count");
    }
}
