//! Report tables and their export: every report can be shaped as one [`Table`], which
//! is written as CSV (RFC 4180, UTF-8 with a byte-order mark so spreadsheet programs
//! read Cyrillic right) or as an XLSX workbook (`rust_xlsxwriter`).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use rust_xlsxwriter::Workbook;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Num(f64),
    Empty,
}

impl From<Option<i64>> for Cell {
    fn from(v: Option<i64>) -> Self {
        v.map(Cell::Int).unwrap_or(Cell::Empty)
    }
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Self {
        v.map(Cell::Num).unwrap_or(Cell::Empty)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}

impl From<String> for Cell {
    fn from(v: String) -> Self {
        Cell::Text(v)
    }
}

/// One report as rows under a header.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// The sheet name (at most 31 characters are used).
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// The formats a report can be exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(s: Option<&str>) -> Result<Format, ApiError> {
        match s.map(str::trim).unwrap_or("") {
            "" | "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(ApiError::malformed("format", "report_bad_format")),
        }
    }
}

fn text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Num(n) => n.to_string(),
        Cell::Empty => String::new(),
    }
}

pub fn csv_bytes(t: &Table) -> anyhow::Result<Vec<u8>> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(&t.headers)?;
        for row in &t.rows {
            w.write_record(row.iter().map(text))?;
        }
        w.flush()?;
    }
    Ok(out)
}

pub fn xlsx_bytes(t: &Table) -> anyhow::Result<Vec<u8>> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let name: String = t
        .title
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect();
    if !name.is_empty() {
        sheet.set_name(name)?;
    }
    for (c, h) in t.headers.iter().enumerate() {
        sheet.write_string(0, c as u16, h)?;
    }
    for (r, row) in t.rows.iter().enumerate() {
        let r = (r + 1) as u32;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => {
                    sheet.write_string(r, c, s)?;
                }
                Cell::Int(i) => {
                    sheet.write_number(r, c, *i as f64)?;
                }
                Cell::Num(n) => {
                    sheet.write_number(r, c, *n)?;
                }
                Cell::Empty => {}
            }
        }
    }
    Ok(book.save_to_buffer()?)
}

/// The table as a download named `<name>.csv` / `<name>.xlsx`.
pub fn download(format: Format, name: &str, t: &Table) -> Result<Response, ApiError> {
    let (bytes, mime, ext) = match format {
        Format::Csv => (csv_bytes(t)?, "text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (
            xlsx_bytes(t)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        Format::Json => return Err(ApiError::malformed("format", "report_bad_format")),
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{ext}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            title: "Воронка".into(),
            headers: vec!["Этап".into(), "Дошли".into(), "Конверсия".into()],
            rows: vec![
                vec![
                    Cell::Text("Новая, первая".into()),
                    Cell::Int(7),
                    Cell::Num(0.7143),
                ],
                vec![Cell::Text("Успешно".into()), Cell::Int(2), Cell::Empty],
            ],
        }
    }

    #[test]
    fn csv_quotes_and_marks_utf8() {
        let bytes = csv_bytes(&table()).unwrap();
        let s = String::from_utf8(bytes).unwrap();
        assert_eq!(
            s,
            "\u{feff}Этап,Дошли,Конверсия\n\"Новая, первая\",7,0.7143\nУспешно,2,\n"
        );
    }

    #[test]
    fn xlsx_is_a_zip_workbook() {
        let bytes = xlsx_bytes(&table()).unwrap();
        assert_eq!(&bytes[..2], b"PK");
        assert!(bytes.len() > 1000);
    }

    #[test]
    fn formats() {
        assert_eq!(Format::parse(None).unwrap(), Format::Json);
        assert_eq!(Format::parse(Some("xlsx")).unwrap(), Format::Xlsx);
        assert!(Format::parse(Some("pdf")).is_err());
    }
}
