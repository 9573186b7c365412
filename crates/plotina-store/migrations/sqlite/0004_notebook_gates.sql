-- Gates: "while a user has open notebook items of kinds K older than T (or more than N
-- overdue tasks), block action A". Kinds and exempt role ids are JSON lists.
CREATE TABLE notebook_gates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    action TEXT NOT NULL,
    kinds TEXT NOT NULL DEFAULT '[]',
    older_than_hours INTEGER,
    max_overdue_tasks INTEGER,
    exempt_role_ids TEXT NOT NULL DEFAULT '[]',
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL
);
CREATE INDEX notebook_gates_action_idx ON notebook_gates (action, active);

-- Every refused attempt, for the discipline report.
CREATE TABLE notebook_gate_blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- No foreign key: the log outlives a deleted gate, which it names.
    gate_id INTEGER,
    gate_name TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    action TEXT NOT NULL,
    entity TEXT,
    record_id INTEGER,
    item_count INTEGER NOT NULL DEFAULT 0,
    blocked_at TEXT NOT NULL
);
CREATE INDEX notebook_gate_blocks_user_idx ON notebook_gate_blocks (user_id, blocked_at);

-- Items by closing time (the discipline report).
CREATE INDEX notebook_items_closed_idx ON notebook_items (owner_id, closed_at);

-- Gate checks: "open items of these kinds due (or, undated, created) before T" are
-- index ranges, so a check costs the same with 10 or 10,000 open items.
CREATE INDEX notebook_items_age_idx ON notebook_items (owner_id, state, due_at, created_at);
CREATE INDEX notebook_items_kind_idx ON notebook_items (owner_id, state, kind, due_at, created_at);
