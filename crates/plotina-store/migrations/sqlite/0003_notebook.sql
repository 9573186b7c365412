-- The notebook: everything a person must react to (tasks, reminders, approvals, stale
-- deals, hand-overs, messages from integrations), one row per item and owner.
CREATE TABLE notebook_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    entity TEXT,
    record_id INTEGER,
    text TEXT NOT NULL DEFAULT '',
    due_at TEXT,
    state TEXT NOT NULL DEFAULT 'open',
    snoozed_until TEXT,
    source TEXT NOT NULL DEFAULT 'system',
    dedupe_key TEXT,
    payload TEXT,
    created_at TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    closed_at TEXT,
    closed_by INTEGER REFERENCES users(id)
);
CREATE INDEX notebook_items_owner_idx ON notebook_items (owner_id, state, due_at);
CREATE INDEX notebook_items_record_idx ON notebook_items (entity, record_id);
CREATE UNIQUE INDEX notebook_items_dedupe_idx ON notebook_items (owner_id, dedupe_key)
    WHERE dedupe_key IS NOT NULL;
