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
