//! Export of a filtered list: the formats read back, formulas are neutralised, rights,
//! the role's row limit, the export log and the administrators' notice.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use plotina_store::export::{ExportFormat, ExportRequest, ExportSummary};

use super::*;

fn label(name: &str) -> String {
    match name {
        "name" => "Название".into(),
        "owner_id" => "Ответственный".into(),
        "inn" => "ИНН".into(),
        other => other.into(),
    }
}

async fn export(
    t: &T,
    a: &Actor,
    filter: &str,
    columns: &[&str],
    format: ExportFormat,
    notify_above: u64,
) -> Result<(ExportSummary, Vec<u8>), StoreError> {
    let req = ExportRequest {
        entity: Entity::Company,
        params: ListParams {
            filter: Some(filter.into()),
            ..Default::default()
        },
        columns: columns.iter().map(|c| c.to_string()).collect(),
        format,
        delimiter: b';',
        source: "test",
        notify_above,
        header: &label,
        yes_no: ("да", "нет"),
    };
    let mut out = Vec::new();
    let summary = t.store.export(a, &req, &mut out).await?;
    Ok((summary, out))
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

async fn system_items(t: &T) -> Vec<String> {
    t.store
        .notebook(&t.fx.admin, None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.source == "export")
        .map(|i| i.text)
        .collect()
}

pub async fn export_writes_every_format_and_logs_it(t: &T) {
    let fx = &t.fx;
    let a = &fx.admin;
    let tagged = |name: &str| json!({"name": name, "tags": ["выгрузка"], "inn": "7707083893"});
    let c1 = id(&t
        .create(a, Entity::Company, tagged("=HYPERLINK(\"evil\")"))
        .await);
    let c2 = id(&t
        .create(&fx.m1, Entity::Company, tagged("ООО «Ромашка»"))
        .await);
    t.create(a, Entity::Company, json!({"name": "Не в выгрузке"}))
        .await;
    let filter = "tags = \"выгрузка\"";
    let cols = ["name", "owner_id", "inn", "created_at"];

    let (sum, bytes) = export(t, a, filter, &cols, ExportFormat::Csv, 1000)
        .await
        .unwrap();
    assert_eq!(sum.rows, 2);
    let rows = csv_rows(&bytes);
    assert_eq!(
        rows[0][..3],
        ["Название", "Ответственный", "ИНН"].map(String::from)
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    // The formula is shown as text, never run; the owner is a name, not an id.
    assert_eq!(rows[1][0], "'=HYPERLINK(\"evil\")");
    assert_eq!(rows[2][0], "ООО «Ромашка»");
    assert_eq!(rows[2][1], fx.m1.name);
    assert_eq!(rows[2][2], "7707083893");

    let (_, bytes) = export(t, a, filter, &cols, ExportFormat::Xlsx, 1000)
        .await
        .unwrap();
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(sheet.height(), 3);
    assert_eq!(
        sheet.get_value((1, 0)),
        Some(&Data::String("'=HYPERLINK(\"evil\")".into()))
    );
    assert_eq!(
        sheet.get_value((2, 1)),
        Some(&Data::String(fx.m1.name.clone()))
    );

    let (_, bytes) = export(t, a, filter, &["id", "name"], ExportFormat::Json, 1000)
        .await
        .unwrap();
    let doc: Json = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        doc,
        json!([
            {"id": c1, "name": "=HYPERLINK(\"evil\")"},
            {"id": c2, "name": "ООО «Ромашка»"}
        ])
    );

    // Default columns: the visible fields, not the audit internals.
    let (_, bytes) = export(t, a, filter, &[], ExportFormat::Csv, 1000)
        .await
        .unwrap();
    let header = &csv_rows(&bytes)[0];
    assert!(header.contains(&"Название".to_string()), "{header:?}");
    assert!(!header.contains(&"version".to_string()), "{header:?}");

    let log = t.store.export_log(a, 10).await.unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!(log[3].format, "csv");
    assert_eq!(log[3].rows, 2);
    assert_eq!(log[3].filter.as_deref(), Some(filter));
    assert_eq!(log[3].user_id, a.user_id);
    assert_eq!(log[3].source, "test");
    assert_eq!(log[3].columns, json!(cols));
    assert!(system_items(t).await.is_empty());
    assert_eq!(
        domain(t.store.export_log(&fx.head, 10).await),
        DomainError::Forbidden("forbidden_action")
    );

    // Above the threshold the administrators hear of it.
    export(t, a, filter, &cols, ExportFormat::Csv, 1)
        .await
        .unwrap();
    let items = system_items(t).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(items[0].contains("exported 2 companies"), "{}", items[0]);
}

pub async fn export_refusals_change_nothing(t: &T) {
    let fx = &t.fx;
    let a = &fx.admin;
    for name in ["Юг-1", "Юг-2", "Юг-3"] {
        t.create(
            &fx.m1,
            Entity::Company,
            json!({"name": name, "tags": ["юг"]}),
        )
        .await;
    }
    let filter = "tags = \"юг\"";
    // Managers have no export right at all.
    assert_eq!(
        domain(export(t, &fx.m1, filter, &[], ExportFormat::Csv, 1000).await),
        DomainError::Forbidden("export_forbidden")
    );
    // An unknown column names itself.
    assert_eq!(
        invalid(export(t, a, filter, &["name", "salary"], ExportFormat::Csv, 1000).await),
        vec![("columns".to_string(), "export_unknown_column")]
    );
    // The head of sales may export, up to the role's limit.
    let role = t.ids(a, Entity::Role, "code = \"head_of_sales\"").await[0];
    t.update(a, Entity::Role, role, json!({"export_row_limit": 2}), None)
        .await
        .unwrap();
    assert_eq!(
        invalid(export(t, &fx.head, filter, &[], ExportFormat::Xlsx, 1000).await),
        vec![("filter".to_string(), "export_row_limit")]
    );
    let (sum, _) = export(t, &fx.head, "name = \"Юг-1\"", &[], ExportFormat::Csv, 1000)
        .await
        .unwrap();
    assert_eq!(sum.rows, 1);
    // Only the successful export is in the log.
    let log = t.store.export_log(a, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].user_id, fx.head.user_id);
    t.update(a, Entity::Role, role, json!({"export_row_limit": 0}), None)
        .await
        .expect_err("a limit is at least 1");
}
