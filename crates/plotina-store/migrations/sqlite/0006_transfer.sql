-- Imports: every import (and every dry run) is a batch; the records it created or
-- updated are listed so the batch can be undone as a whole.
CREATE TABLE import_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    file_name TEXT NOT NULL DEFAULT '',
    format TEXT NOT NULL DEFAULT 'csv',
    status TEXT NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0,
    on_duplicate TEXT NOT NULL DEFAULT 'skip',
    mapping TEXT,
    rows_total INTEGER NOT NULL DEFAULT 0,
    rows_created INTEGER NOT NULL DEFAULT 0,
    rows_updated INTEGER NOT NULL DEFAULT 0,
    rows_skipped INTEGER NOT NULL DEFAULT 0,
    rows_rejected INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    finished_at TEXT,
    undone_at TEXT,
    undone_by INTEGER REFERENCES users(id)
);
CREATE INDEX import_batches_created_idx ON import_batches (created_by, created_at);

CREATE TABLE import_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id INTEGER NOT NULL REFERENCES import_batches(id),
    row_no INTEGER NOT NULL,
    record_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    version INTEGER NOT NULL,
    before TEXT
);
CREATE INDEX import_items_batch_idx ON import_items (batch_id, id);

-- Rows a batch refused: the cells as read and the problems found, for the report and
-- the downloadable file of rejected rows.
CREATE TABLE import_rejects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id INTEGER NOT NULL REFERENCES import_batches(id),
    row_no INTEGER NOT NULL,
    cells TEXT NOT NULL,
    problems TEXT NOT NULL
);
CREATE INDEX import_rejects_batch_idx ON import_rejects (batch_id, row_no);

-- Named column mappings (file header → field), per entity.
CREATE TABLE import_mappings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    name TEXT NOT NULL,
    columns TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    UNIQUE (entity, name)
);

-- Every export: who, what, with which filter, how many rows.
CREATE TABLE export_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    entity TEXT NOT NULL,
    filter TEXT,
    format TEXT NOT NULL,
    rows INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX export_log_created_idx ON export_log (created_at);
