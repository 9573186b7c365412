//! The templates of the import pages and what they show of a batch.

use askama::Template;
use plotina_core::schema::Entity;
use plotina_store::import::Batch;

use super::lookups::Lookups;
use super::{fmt, Ctx};

/// An option of a select.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A batch as a row of the list (and the head of its page).
pub struct BatchRow {
    pub id: i64,
    pub when: String,
    pub user: String,
    pub what: String,
    pub file_name: String,
    pub status: String,
    pub state: String,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub rejected: i64,
    pub total: i64,
    pub done: i64,
    pub policy: String,
    pub undoable: bool,
}

pub fn row(ctx: &Ctx, lk: &Lookups, b: Batch) -> BatchRow {
    BatchRow {
        id: b.id,
        when: fmt::datetime_text(ctx, &b.created_at),
        user: lk
            .org_name(Entity::User, b.created_by)
            .unwrap_or_else(|| format!("#{}", b.created_by)),
        what: ctx.t(&format!("ui-nav-{}", b.entity.plural())),
        state: ctx.t(&format!("importpage-status-{}", b.status)),
        undoable: undoable(&b),
        policy: ctx.t(&format!("importpage-dup-{}", b.on_duplicate)),
        status: b.status,
        file_name: b.file_name,
        created: b.rows_created,
        updated: b.rows_updated,
        skipped: b.rows_skipped,
        rejected: b.rows_rejected,
        total: b.rows_total,
        done: b.rows_done,
    }
}

/// Whether the batch's records can be taken back: a finished import, or what a failed or
/// interrupted one committed.
pub fn undoable(b: &Batch) -> bool {
    !b.dry_run && matches!(b.status.as_str(), "done" | "failed" | "interrupted")
}

/// Rows written, in whole percent of the file.
pub fn percent(b: &Batch) -> i64 {
    if b.status == "done" || b.rows_total <= 0 {
        return if b.status == "done" { 100 } else { 0 };
    }
    (b.rows_done.clamp(0, b.rows_total) * 100) / b.rows_total
}

pub fn preset_opts(ctx: &Ctx, selected: &str) -> Vec<Opt> {
    ["", "bitrix24", "amocrm"]
        .iter()
        .map(|p| Opt {
            value: p.to_string(),
            label: ctx.t(&format!(
                "importpage-preset-{}",
                if p.is_empty() { "none" } else { p }
            )),
            selected: *p == selected,
        })
        .collect()
}

pub fn policy_opts(ctx: &Ctx, selected: &str) -> Vec<Opt> {
    ["skip", "update", "create"]
        .iter()
        .map(|p| Opt {
            value: p.to_string(),
            label: ctx.t(&format!("importpage-dup-{p}")),
            selected: *p == selected,
        })
        .collect()
}

/// A mapping target in words: a field's label, a resolved name, a custom field's key.
pub fn target_text(ctx: &Ctx, entity: Entity, target: &str) -> String {
    if let Some(key) = target.strip_prefix("custom.") {
        return key.to_string();
    }
    if plotina_store::import::mapping::PSEUDO_TARGETS.contains(&target) {
        return ctx.t(&format!("importpage-target-{target}"));
    }
    fmt::field_label(ctx.lang, entity, target)
}

#[derive(Template)]
#[template(path = "imports_list.html")]
pub struct ListPage {
    pub ctx: Ctx,
    pub rows: Vec<BatchRow>,
    pub can_import: bool,
}

#[derive(Template)]
#[template(path = "imports_new.html")]
pub struct NewPage {
    pub ctx: Ctx,
    pub entities: Vec<Opt>,
    pub presets: Vec<Opt>,
    pub policies: Vec<Opt>,
    pub max: String,
    pub error: String,
}

/// One column of the file on the mapping step.
pub struct MapRow {
    pub index: usize,
    pub header: String,
    pub example: String,
    pub options: Vec<Opt>,
}

pub struct SampleRow {
    pub row: u64,
    pub cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "imports_map.html")]
pub struct MapPage {
    pub ctx: Ctx,
    pub token: String,
    pub entity: String,
    pub entity_label: String,
    pub preset: String,
    pub on_duplicate: String,
    pub file_name: String,
    pub format: String,
    pub total: u64,
    pub headers: Vec<String>,
    pub sample: Vec<SampleRow>,
    pub rows: Vec<MapRow>,
    pub policies: Vec<Opt>,
    pub saved: Vec<Opt>,
    pub save_as: String,
    pub error: String,
}

pub struct ProblemRow {
    pub row: i64,
    pub column: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "imports_batch.html")]
pub struct BatchPage {
    pub ctx: Ctx,
    pub batch: Batch,
    pub row: BatchRow,
    pub percent: i64,
    pub running: bool,
    pub failed: bool,
    pub undone: bool,
    /// The note of a batch left `running` by a server that stopped (its committed
    /// chunks are kept); empty otherwise.
    pub interrupted: String,
    pub dry_run: bool,
    pub undoable: bool,
    /// (file column, where it went).
    pub mapping: Vec<(String, String)>,
    /// The staged file's token (a dry run whose file can still be imported).
    pub file: String,
    /// Back to the mapping step with this dry run's mapping.
    pub back: String,
    pub problems: Vec<ProblemRow>,
    /// The next page of the report.
    pub next: String,
    pub notice: String,
}

#[cfg(test)]
mod tests {
    use crate::i18n::{I18n, Lang};

    fn both(id: &str) {
        let i = I18n::get();
        assert!(i.has(Lang::Ru, id), "{id} is missing in Russian");
        assert!(i.has(Lang::En, id), "{id} is missing in English");
    }

    /// Every `importpage-…` id written in the templates and handlers, and every one
    /// built at run time, exists in both languages.
    #[test]
    fn import_page_texts_are_translated() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for file in [
            "templates/imports_list.html",
            "templates/imports_new.html",
            "templates/imports_map.html",
            "templates/imports_batch.html",
            "src/web/imports.rs",
            "src/web/import_views.rs",
        ] {
            let text = std::fs::read_to_string(root.join(file)).expect("read");
            for part in text.split("\"importpage-").skip(1) {
                let id: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                if !id.is_empty() && part[id.len()..].starts_with('"') {
                    both(&format!("importpage-{id}"));
                    seen += 1;
                }
            }
        }
        assert!(seen > 30, "found only {seen} ids");
        for s in [
            "running",
            "done",
            "failed",
            "undone",
            "dry_run",
            "checking",
            "interrupted",
        ] {
            both(&format!("importpage-status-{s}"));
        }
        for d in ["skip", "update", "create"] {
            both(&format!("importpage-dup-{d}"));
        }
        for p in ["none", "bitrix24", "amocrm"] {
            both(&format!("importpage-preset-{p}"));
        }
        for t in plotina_store::import::mapping::PSEUDO_TARGETS {
            both(&format!("importpage-target-{t}"));
        }
    }
}
