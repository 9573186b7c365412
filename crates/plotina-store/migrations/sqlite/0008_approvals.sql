-- Reminders, approvals and calendar feeds.

-- A task or meeting reminds its assignee this many minutes before `due_at`.
ALTER TABLE activities ADD COLUMN remind_before_min INTEGER;
CREATE INDEX activities_remind_idx ON activities (due_at) WHERE remind_before_min IS NOT NULL;

-- Discounts below the pipeline's floor need the approval of the requester's head.
ALTER TABLE pipelines ADD COLUMN discount_floor_pct INTEGER;
ALTER TABLE deals ADD COLUMN discount_pct INTEGER;

-- While a user is away (until `away_until`), approvals go to their deputy.
ALTER TABLE users ADD COLUMN away_until TEXT;
ALTER TABLE users ADD COLUMN deputy_id INTEGER REFERENCES users(id);

-- An approval request: a change to one record field held back until approved.
CREATE TABLE approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    field TEXT NOT NULL,
    requested_value TEXT,
    previous_value TEXT,
    reason TEXT NOT NULL DEFAULT '',
    requester_id INTEGER NOT NULL REFERENCES users(id),
    approver_id INTEGER REFERENCES users(id),
    department_id INTEGER REFERENCES departments(id),
    level INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    comment TEXT,
    decided_by INTEGER REFERENCES users(id),
    decided_at TEXT,
    escalate_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX approvals_approver_idx ON approvals (approver_id, state);
CREATE INDEX approvals_requester_idx ON approvals (requester_id, state);
CREATE INDEX approvals_record_idx ON approvals (entity, record_id);
CREATE INDEX approvals_escalate_idx ON approvals (state, escalate_at);

-- A user's secret calendar feed; only the token's SHA-256 is kept.
CREATE TABLE calendar_feeds (
    user_id INTEGER PRIMARY KEY REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
