-- Automation rules ("robots"): trigger, condition (filter language) and actions as JSON
-- of the types in plotina_core::automation. `state` keeps round-robin positions;
-- `scheduled_until` is the instant up to which the scheduler has fired a time rule.
CREATE TABLE automation_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    entity TEXT NOT NULL,
    pipeline_id INTEGER REFERENCES pipelines(id),
    trigger_spec TEXT NOT NULL,
    condition TEXT,
    actions TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    webhook_token TEXT UNIQUE,
    state TEXT,
    scheduled_until TEXT,
    created_at TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX automation_rules_entity_idx ON automation_rules (entity, enabled);

-- Every run of a rule on a record: what started it, what it did, how it ended.
CREATE TABLE automation_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id INTEGER NOT NULL REFERENCES automation_rules(id) ON DELETE CASCADE,
    entity TEXT NOT NULL,
    record_id INTEGER,
    trigger_code TEXT NOT NULL,
    status TEXT NOT NULL,
    depth INTEGER NOT NULL DEFAULT 0,
    actions TEXT,
    error TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX automation_runs_rule_idx ON automation_runs (rule_id, id);
CREATE INDEX automation_runs_record_idx ON automation_runs (entity, record_id, id);

-- Work that runs later: the rest of a rule after a delay, a retry of a failed run,
-- an outgoing webhook call. Claimed and finished in one transaction by the job.
CREATE TABLE automation_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id INTEGER NOT NULL REFERENCES automation_rules(id) ON DELETE CASCADE,
    entity TEXT NOT NULL,
    record_id INTEGER,
    action_index INTEGER NOT NULL DEFAULT 0,
    payload TEXT,
    trigger_code TEXT NOT NULL,
    depth INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'queued',
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX automation_jobs_due_idx ON automation_jobs (state, next_attempt_at);

-- What the scheduler has fired: (rule, record, due instant) once, ever.
CREATE TABLE automation_fired (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id INTEGER NOT NULL REFERENCES automation_rules(id) ON DELETE CASCADE,
    record_id INTEGER NOT NULL,
    fire_key TEXT NOT NULL,
    fired_at TEXT NOT NULL
);
CREATE UNIQUE INDEX automation_fired_key_idx ON automation_fired (rule_id, record_id, fire_key);

-- Outgoing webhook subscriptions: events (JSON list such as ["deal.stage_changed"]),
-- the per-subscription signing secret, and the failure count that disables it.
CREATE TABLE webhook_subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    entity TEXT,
    secret TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    max_failures INTEGER NOT NULL DEFAULT 5,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled_at TEXT,
    created_at TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL
);

-- One delivery per event and subscription, written in the transaction of the change
-- and sent by the scheduler with retries.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id INTEGER NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_sub_idx ON webhook_deliveries (subscription_id, id);
