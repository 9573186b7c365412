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

-- Outgoing e-mail, written in the transaction of whatever caused it (a reminder, a
-- robot, a scheduled report) and sent by the mailer job, so mail is neither lost nor
-- doubled across restarts. Attachments: JSON list of {name, content_type, base64}.
CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL DEFAULT '',
    attachments TEXT,
    source TEXT NOT NULL DEFAULT 'system',
    dedupe_key TEXT UNIQUE,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (state, next_attempt_at);
