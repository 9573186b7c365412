//! Reading import files row by row: CSV (encoding and delimiter detected, decoded while
//! streaming) and XLSX/XLS (through calamine, after a check of the archive's declared
//! sizes). Whole-file problems are [`FileError`]s with a code the edge localizes.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use calamine::{Data, Reader};
use encoding_rs::{Decoder, Encoding, UTF_8, WINDOWS_1251};

/// The largest cell accepted: bigger cells mean a broken file (an unclosed quote eats the
/// rest of it), not data.
pub const MAX_CELL_BYTES: usize = 1 << 20;
/// The largest total uncompressed size of a spreadsheet archive (zip bombs stop here).
pub const MAX_XLSX_UNCOMPRESSED: u64 = 256 << 20;
/// The largest compression ratio of a spreadsheet archive entry.
pub const MAX_XLSX_RATIO: u64 = 200;

/// A problem with the file as a whole: nothing is imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {args:?}")]
pub struct FileError {
    pub code: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl FileError {
    pub fn new(code: &'static str) -> FileError {
        FileError {
            code,
            args: Vec::new(),
        }
    }
    pub fn with(mut self, key: &'static str, v: impl ToString) -> FileError {
        self.args.push((key, v.to_string()));
        self
    }
}

/// The file kinds an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
    Xls,
}

impl Format {
    pub fn code(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
        }
    }

    /// By the file's first bytes (zip → XLSX, OLE2 → XLS), else CSV.
    pub fn sniff(path: &Path) -> Result<Format, FileError> {
        let mut f = File::open(path).map_err(|_| FileError::new("import_file_unreadable"))?;
        let mut head = [0u8; 8];
        let n = f
            .read(&mut head)
            .map_err(|_| FileError::new("import_file_unreadable"))?;
        Ok(if n >= 4 && head[..4] == *b"PK\x03\x04" {
            Format::Xlsx
        } else if n >= 8 && head == [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] {
            Format::Xls
        } else {
            Format::Csv
        })
    }
}

/// Rows of a file: the header once, then the data rows with their 1-based row numbers
/// as a spreadsheet would show them.
pub trait RowSource: Send {
    fn headers(&self) -> &[String];
    fn next_row(&mut self) -> Option<Result<(u64, Vec<String>), FileError>>;
    /// How far the reading has got, as (done, total) in source units (bytes or rows).
    fn progress(&self) -> (u64, u64);
}

/// Opens a file for import.
pub fn open(path: &Path) -> Result<(Format, Box<dyn RowSource>), FileError> {
    let format = Format::sniff(path)?;
    let source: Box<dyn RowSource> = match format {
        Format::Csv => Box::new(CsvSource::open(path)?),
        Format::Xlsx | Format::Xls => {
            // A crafted workbook must be a refused file, never a crashed request.
            let opened = std::panic::catch_unwind(|| SheetSource::open(path, format))
                .map_err(|_| FileError::new("import_xlsx_broken"))??;
            Box::new(opened)
        }
    };
    Ok((format, source))
}

// ---------------------------------------------------------------------------------------
// CSV

/// Decodes a byte stream to UTF-8 on the fly (Windows-1251 or UTF-8, BOM removed).
struct DecodingReader<R> {
    inner: R,
    decoder: Decoder,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    eof: bool,
    cr: bool,
}

impl<R: Read> DecodingReader<R> {
    fn new(inner: R, encoding: &'static Encoding) -> Self {
        DecodingReader {
            inner,
            decoder: encoding.new_decoder_with_bom_removal(),
            raw: vec![0; 64 * 1024],
            out: Vec::with_capacity(3 * 64 * 1024 + 16),
            pos: 0,
            eof: false,
            cr: false,
        }
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.eof {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.raw)?;
            self.eof = n == 0;
            self.out.clear();
            self.pos = 0;
            let cap = self.decoder.max_utf8_buffer_length(n).unwrap_or(3 * n + 16);
            self.out.resize(cap + 1, 0);
            let start = usize::from(self.cr);
            if self.cr {
                self.out[0] = b'\r';
            }
            let (_, _, written, _) =
                self.decoder
                    .decode_to_utf8(&self.raw[..n], &mut self.out[start..], self.eof);
            self.out.truncate(start + written);
            // CRLF → LF, so that line numbers count every line break once; a CR at the
            // end of a block waits for the next one.
            self.cr = !self.eof && self.out.last() == Some(&b'\r');
            if self.cr {
                self.out.pop();
            }
            let mut k = 0;
            for j in 0..self.out.len() {
                if self.out[j] == b'\r' && self.out.get(j + 1) == Some(&b'\n') {
                    continue;
                }
                self.out[k] = self.out[j];
                k += 1;
            }
            self.out.truncate(k);
        }
        let k = buf.len().min(self.out.len() - self.pos);
        buf[..k].copy_from_slice(&self.out[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

/// Counts the bytes read from the file, for progress.
struct Counting<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// The encoding of a file's first bytes: a UTF-8 BOM or valid UTF-8 (a character cut at
/// the end of the sample allowed) → UTF-8; NUL bytes (UTF-16, binary) → refused;
/// otherwise Windows-1251, the encoding Russian Excel writes CSV in.
pub fn detect_encoding(sample: &[u8], complete: bool) -> Result<&'static Encoding, FileError> {
    if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(UTF_8);
    }
    if sample.starts_with(&[0xFF, 0xFE]) || sample.starts_with(&[0xFE, 0xFF]) {
        return Err(FileError::new("import_encoding_unknown"));
    }
    if sample.contains(&0) {
        return Err(FileError::new("import_encoding_unknown"));
    }
    match std::str::from_utf8(sample) {
        Ok(_) => Ok(UTF_8),
        Err(e) if e.error_len().is_none() && !complete => Ok(UTF_8),
        Err(_) => {
            // Windows-1251 text: mostly letters. Control bytes other than tab and line
            // breaks mean this is not text at all.
            let controls = sample
                .iter()
                .filter(|b| **b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n'))
                .count();
            if controls > 0 {
                Err(FileError::new("import_encoding_unknown"))
            } else {
                Ok(WINDOWS_1251)
            }
        }
    }
}

/// The delimiter of the header line: the most frequent of `,` `;` tab outside quotes.
pub fn sniff_delimiter(text: &str) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => break,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|i| (counts[*i], 3 - i)).unwrap_or(0);
    [b',', b';', b'\t'][best]
}

pub struct CsvSource {
    reader: csv::Reader<Box<dyn Read + Send>>,
    headers: Vec<String>,
    record: csv::StringRecord,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    total: u64,
    pub encoding: &'static str,
    pub delimiter: u8,
}

impl CsvSource {
    pub fn open(path: &Path) -> Result<CsvSource, FileError> {
        let unreadable = |_| FileError::new("import_file_unreadable");
        let mut file = File::open(path).map_err(unreadable)?;
        let total = file.metadata().map_err(unreadable)?.len();
        if total == 0 {
            return Err(FileError::new("import_file_empty"));
        }
        let mut sample = vec![0u8; 64 * 1024];
        let mut n = 0;
        while n < sample.len() {
            let k = file.read(&mut sample[n..]).map_err(unreadable)?;
            if k == 0 {
                break;
            }
            n += k;
        }
        sample.truncate(n);
        let encoding = detect_encoding(&sample, n as u64 == total)?;
        let (text, _, _) = encoding.decode(&sample);
        if text.trim().is_empty() {
            return Err(FileError::new("import_file_empty"));
        }
        let delimiter = sniff_delimiter(text.trim_start_matches('\u{feff}'));
        file.rewind().map_err(unreadable)?;
        let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counting = Counting {
            inner: BufReader::with_capacity(64 * 1024, file),
            count: read.clone(),
        };
        let decoded: Box<dyn Read + Send> = Box::new(DecodingReader::new(counting, encoding));
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(false)
            .buffer_capacity(64 * 1024)
            .from_reader(decoded);
        let mut record = csv::StringRecord::new();
        let mut headers = Vec::new();
        // The header is the first line that has any text.
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {
                    if record.iter().any(|c| !c.trim().is_empty()) {
                        headers = record
                            .iter()
                            .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
                            .collect();
                        break;
                    }
                }
                Ok(false) => break,
                Err(e) => return Err(csv_error(&e)),
            }
        }
        if headers.is_empty() {
            return Err(FileError::new("import_file_empty"));
        }
        if headers.iter().any(|h| h.len() > MAX_CELL_BYTES) {
            return Err(FileError::new("import_cell_too_large").with("row", 1));
        }
        Ok(CsvSource {
            reader,
            headers,
            record,
            read,
            total,
            encoding: encoding.name(),
            delimiter,
        })
    }
}

fn csv_error(e: &csv::Error) -> FileError {
    let row = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => FileError::new("import_encoding_unknown"),
        _ => FileError::new("import_file_broken").with("row", row),
    }
}

impl RowSource for CsvSource {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_row(&mut self) -> Option<Result<(u64, Vec<String>), FileError>> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(true) => {
                    let line = self.record.position().map_or(0, |p| p.line());
                    if self.record.iter().any(|c| c.len() > MAX_CELL_BYTES) {
                        return Some(Err(
                            FileError::new("import_cell_too_large").with("row", line)
                        ));
                    }
                    if self.record.iter().all(|c| c.trim().is_empty()) {
                        continue;
                    }
                    // An unclosed quote swallows line breaks and shifts the columns.
                    if self.record.len() != self.headers.len()
                        && self.record.iter().any(|c| c.contains('\n'))
                    {
                        return Some(Err(FileError::new("import_quotes_broken").with("row", line)));
                    }
                    return Some(Ok((line, self.record.iter().map(String::from).collect())));
                }
                Ok(false) => return None,
                Err(e) => return Some(Err(csv_error(&e))),
            }
        }
    }

    fn progress(&self) -> (u64, u64) {
        (
            self.read.load(std::sync::atomic::Ordering::Relaxed),
            self.total,
        )
    }
}

// ---------------------------------------------------------------------------------------
// Spreadsheets

/// Refuses archives whose entries declare more than [`MAX_XLSX_UNCOMPRESSED`] in total or
/// a compression ratio above [`MAX_XLSX_RATIO`], before anything is decompressed.
pub fn check_archive(path: &Path) -> Result<(), FileError> {
    let file = File::open(path).map_err(|_| FileError::new("import_file_unreadable"))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|_| FileError::new("import_xlsx_broken"))?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|_| FileError::new("import_xlsx_broken"))?;
        let size = entry.size();
        total = total.saturating_add(size);
        let ratio = size / entry.compressed_size().max(1);
        if total > MAX_XLSX_UNCOMPRESSED || (size > (1 << 20) && ratio > MAX_XLSX_RATIO) {
            return Err(
                FileError::new("import_xlsx_too_large").with("max_mb", MAX_XLSX_UNCOMPRESSED >> 20)
            );
        }
    }
    Ok(())
}

/// The first worksheet, its header (merged header cells spread over the columns they
/// cover; a two-row header whose upper row is merged uses the lower row's names) and
/// its rows. calamine reads a sheet whole, which the archive size limit keeps bounded.
pub struct SheetSource {
    headers: Vec<String>,
    rows: std::vec::IntoIter<(u64, Vec<String>)>,
    total: u64,
    done: u64,
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => {
                t.date().format("%Y-%m-%d").to_string()
            }
            Some(t) => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
            None => dt.as_f64().to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(_) => String::new(),
    }
}

impl SheetSource {
    pub fn open(path: &Path, format: Format) -> Result<SheetSource, FileError> {
        let broken = || FileError::new("import_xlsx_broken");
        let (range, merged) = match format {
            Format::Xlsx => {
                check_archive(path)?;
                let mut wb: calamine::Xlsx<_> =
                    calamine::open_workbook(path).map_err(|_| broken())?;
                wb.load_merged_regions().map_err(|_| broken())?;
                let name = wb.sheet_names().first().cloned().ok_or_else(broken)?;
                let range = wb.worksheet_range(&name).map_err(|_| broken())?;
                let merged: Vec<calamine::Dimensions> = wb
                    .merged_regions_by_sheet(&name)
                    .into_iter()
                    .map(|(_, _, d)| *d)
                    .collect();
                (range, merged)
            }
            _ => {
                let mut wb: calamine::Xls<_> =
                    calamine::open_workbook(path).map_err(|_| broken())?;
                let name = wb.sheet_names().first().cloned().ok_or_else(broken)?;
                let range = wb.worksheet_range(&name).map_err(|_| broken())?;
                let merged = wb.worksheet_merge_cells(&name).unwrap_or_default();
                (range, merged)
            }
        };
        let (start_row, start_col) = range.start().unwrap_or((0, 0));
        let width = range.width();
        let mut grid = range.rows();
        // Header: the first row with any text.
        let mut header_row = start_row;
        let mut header: Vec<String> = Vec::new();
        for r in grid.by_ref() {
            let cells: Vec<String> = r.iter().map(|c| cell_text(c).trim().to_string()).collect();
            if cells.iter().any(|c| !c.is_empty()) {
                header = cells;
                break;
            }
            header_row += 1;
        }
        if header.is_empty() {
            return Err(FileError::new("import_file_empty"));
        }
        let spread = |row: u32, cells: &mut Vec<String>| {
            for m in &merged {
                if m.start.0 <= row && row <= m.end.0 {
                    let first = m.start.1.saturating_sub(start_col) as usize;
                    let value = if m.start.0 == row {
                        cells.get(first).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    };
                    for c in m.start.1..=m.end.1 {
                        let i = c.saturating_sub(start_col) as usize;
                        if i < cells.len() && cells[i].is_empty() && !value.is_empty() {
                            cells[i] = value.clone();
                        }
                    }
                }
            }
        };
        spread(header_row, &mut header);
        let wide_merge = merged
            .iter()
            .any(|m| m.start.0 == header_row && m.end.1 > m.start.1);
        let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
        let mut row_no = header_row;
        let mut first_data = true;
        for r in grid {
            row_no += 1;
            let cells: Vec<String> = r.iter().map(cell_text).collect();
            if first_data && wide_merge {
                first_data = false;
                // The lower row of a two-row header: its names win where present.
                for (i, sub) in cells.iter().enumerate() {
                    let sub = sub.trim();
                    if !sub.is_empty() && i < header.len() {
                        header[i] = sub.to_string();
                    }
                }
                continue;
            }
            first_data = false;
            if cells.iter().any(|c| c.len() > MAX_CELL_BYTES) {
                return Err(FileError::new("import_cell_too_large").with("row", row_no + 1));
            }
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            rows.push((u64::from(row_no) + 1, cells));
        }
        header.truncate(width);
        let total = rows.len() as u64;
        Ok(SheetSource {
            headers: header,
            rows: rows.into_iter(),
            total,
            done: 0,
        })
    }
}

impl RowSource for SheetSource {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_row(&mut self) -> Option<Result<(u64, Vec<String>), FileError>> {
        let r = self.rows.next()?;
        self.done += 1;
        Some(Ok(r))
    }

    fn progress(&self) -> (u64, u64) {
        (self.done, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_sniffed_outside_quotes() {
        assert_eq!(sniff_delimiter("a;b;\"c,d,e\"\n1,2"), b';');
        assert_eq!(sniff_delimiter("a,b,c"), b',');
        assert_eq!(sniff_delimiter("a\tb\tc;d"), b'\t');
    }

    #[test]
    fn crlf_becomes_lf_across_blocks() {
        let text = "a;b\r\nв;г\r\n".repeat(20_000);
        let bytes = WINDOWS_1251.encode(&text).0.into_owned();
        let mut r = DecodingReader::new(&bytes[..], WINDOWS_1251);
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, "a;b\nв;г\n".repeat(20_000));
    }

    #[test]
    fn encodings_are_detected() {
        let cp = WINDOWS_1251.encode("Название;ИНН").0.into_owned();
        assert_eq!(detect_encoding(&cp, true).unwrap(), WINDOWS_1251);
        assert_eq!(detect_encoding("Название".as_bytes(), true).unwrap(), UTF_8);
        // A two-byte letter cut at the end of a sample is still UTF-8.
        let cut = &"Имя".as_bytes()[..5];
        assert_eq!(detect_encoding(cut, false).unwrap(), UTF_8);
        assert_eq!(
            detect_encoding(&[0xFF, 0xFE, b'a', 0], true)
                .unwrap_err()
                .code,
            "import_encoding_unknown"
        );
    }
}
