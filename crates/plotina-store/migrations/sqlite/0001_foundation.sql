-- Plotina foundation schema (SQLite). Timestamps are RFC 3339 text in UTC, dates
-- YYYY-MM-DD text (both sort correctly as text), money is integer kopecks, JSON is text.

CREATE TABLE departments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL, updated_by INTEGER REFERENCES users(id),
    owner_id INTEGER REFERENCES users(id), version INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT, custom TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',
    name TEXT NOT NULL,
    parent_id INTEGER REFERENCES departments(id),
    head_id INTEGER REFERENCES users(id)
);

CREATE TABLE roles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL, updated_by INTEGER REFERENCES users(id),
    owner_id INTEGER REFERENCES users(id), version INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT, custom TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',
    name TEXT NOT NULL,
    code TEXT,
    is_admin INTEGER NOT NULL DEFAULT 0,
    permissions TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX roles_code_key ON roles (code) WHERE code IS NOT NULL;

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL, updated_by INTEGER REFERENCES users(id),
    owner_id INTEGER REFERENCES users(id), version INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT, custom TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',
    login TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    department_id INTEGER REFERENCES departments(id),
    role_id INTEGER NOT NULL REFERENCES roles(id),
    language TEXT NOT NULL DEFAULT 'ru',
    time_zone TEXT NOT NULL DEFAULT 'Europe/Moscow',
    active INTEGER NOT NULL DEFAULT 1,
    password_hash TEXT
);
CREATE UNIQUE INDEX users_login_key ON users (login);
CREATE INDEX users_department_idx ON users (department_id);

CREATE TABLE pipelines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL, updated_by INTEGER REFERENCES users(id),
    owner_id INTEGER REFERENCES users(id), version INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT, custom TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',
    name TEXT NOT NULL,
    code TEXT,
    department_id INTEGER REFERENCES departments(id),
    forbid_skip INTEGER NOT NULL DEFAULT 0,
    lost_reasons TEXT NOT NULL DEFAULT '[]',
    position INTEGER,
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE stages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL, updated_by INTEGER REFERENCES users(id),
    owner_id INTEGER REFERENCES users(id), version INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT, custom TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    name TEXT NOT NULL,
    code TEXT,
    kind TEXT NOT NULL DEFAULT 'open',
    position INTEGER,
    probability INTEGER,
    rotten_days INTEGER
);
CREATE INDEX stages_pipeline_idx ON stages (pipeline_id, position);

CREATE TABLE custom_fields (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL, updated_by INTEGER REFERENCES users(id),
    owner_id INTEGER REFERENCES users(id), version INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT, custom TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',
    entity TEXT NOT NULL,
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    label_en TEXT,
    kind TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '[]',
    link_entity TEXT,
    required INTEGER NOT NULL DEFAULT 0,
    hidden INTEGER NOT NULL DEFAULT 0,
    position INTEGER
);
CREATE UNIQUE INDEX custom_fields_entity_key ON custom_fields (entity, key);

CREATE TABLE companies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL, updated_by INTEGER REFERENCES users(id),
    owner_id INTEGER REFERENCES users(id), version INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT, custom TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',
    name TEXT NOT NULL,
    legal_name TEXT,
    inn TEXT,
    kpp TEXT,
    industry TEXT,
    roles TEXT NOT NULL DEFAULT '[]',
    addresses TEXT NOT NULL DEFAULT '[]',
    phones TEXT NOT NULL DEFAULT '[]',
    emails TEXT NOT NULL DEFAULT '[]',
    website TEXT,
    source TEXT,
    private INTEGER NOT NULL DEFAULT 0,
    description TEXT,
    search_text TEXT NOT NULL DEFAULT ''
);
CREATE INDEX companies_inn_idx ON companies (inn);
CREATE INDEX companies_owner_idx ON companies (owner_id, updated_at);
CREATE INDEX companies_updated_idx ON companies (updated_at, id);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL, updated_by INTEGER REFERENCES users(id),
    owner_id INTEGER REFERENCES users(id), version INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT, custom TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',
    last_name TEXT,
    first_name TEXT,
    middle_name TEXT,
    full_name TEXT,
    position TEXT,
    companies TEXT NOT NULL DEFAULT '[]',
    phones TEXT NOT NULL DEFAULT '[]',
    emails TEXT NOT NULL DEFAULT '[]',
    birthday TEXT,
    messengers TEXT NOT NULL DEFAULT '{}',
    source TEXT,
    search_text TEXT NOT NULL DEFAULT ''
);
CREATE INDEX contacts_owner_idx ON contacts (owner_id, updated_at);
CREATE INDEX contacts_updated_idx ON contacts (updated_at, id);

CREATE TABLE leads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL, updated_by INTEGER REFERENCES users(id),
    owner_id INTEGER REFERENCES users(id), version INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT, custom TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',
    title TEXT NOT NULL,
    source TEXT,
    status TEXT NOT NULL DEFAULT 'new',
    junk_reason TEXT,
    contact_name TEXT,
    company_name TEXT,
    phone TEXT,
    email TEXT,
    inn TEXT,
    amount INTEGER,
    message TEXT,
    payload TEXT NOT NULL DEFAULT '{}',
    company_id INTEGER REFERENCES companies(id),
    contact_id INTEGER REFERENCES contacts(id),
    deal_id INTEGER,
    converted_at TEXT,
    search_text TEXT NOT NULL DEFAULT ''
);
CREATE INDEX leads_owner_status_idx ON leads (owner_id, status, updated_at);
CREATE INDEX leads_updated_idx ON leads (updated_at, id);

CREATE TABLE deals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL, updated_by INTEGER REFERENCES users(id),
    owner_id INTEGER REFERENCES users(id), version INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT, custom TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',
    title TEXT NOT NULL,
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    stage_id INTEGER NOT NULL REFERENCES stages(id),
    amount INTEGER,
    currency TEXT NOT NULL DEFAULT 'RUB',
    close_date TEXT,
    probability INTEGER,
    company_id INTEGER REFERENCES companies(id),
    contact_ids TEXT NOT NULL DEFAULT '[]',
    source TEXT,
    lost_reason TEXT,
    parent_id INTEGER REFERENCES deals(id),
    planned_deadline TEXT,
    actual_deadline TEXT,
    description TEXT,
    lead_id INTEGER REFERENCES leads(id),
    stage_changed_at TEXT,
    closed_at TEXT,
    search_text TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deals_board_idx ON deals (pipeline_id, stage_id, owner_id, updated_at);
CREATE INDEX deals_owner_idx ON deals (owner_id, updated_at);
CREATE INDEX deals_updated_idx ON deals (updated_at, id);
CREATE INDEX deals_company_idx ON deals (company_id);
CREATE INDEX deals_parent_idx ON deals (parent_id);

CREATE TABLE activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL, created_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL, updated_by INTEGER REFERENCES users(id),
    owner_id INTEGER REFERENCES users(id), version INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT, custom TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',
    kind TEXT NOT NULL,
    subject TEXT,
    body TEXT,
    due_at TEXT,
    duration_min INTEGER,
    done INTEGER NOT NULL DEFAULT 0,
    done_at TEXT,
    result TEXT,
    direction TEXT,
    assignee_id INTEGER REFERENCES users(id),
    company_id INTEGER REFERENCES companies(id),
    contact_id INTEGER REFERENCES contacts(id),
    deal_id INTEGER REFERENCES deals(id),
    lead_id INTEGER REFERENCES leads(id),
    participant_ids TEXT NOT NULL DEFAULT '[]',
    parent_id INTEGER REFERENCES activities(id)
);
CREATE INDEX activities_assignee_due_idx ON activities (assignee_id, done, due_at);
CREATE INDEX activities_company_idx ON activities (company_id, created_at);
CREATE INDEX activities_contact_idx ON activities (contact_id);
CREATE INDEX activities_deal_idx ON activities (deal_id, created_at);
CREATE INDEX activities_lead_idx ON activities (lead_id);
CREATE INDEX activities_updated_idx ON activities (updated_at, id);

-- Secondary index of list values (phones, e-mails, tags, multi-selects, links), so that
-- search, duplicate checks and "contains" filters hit an index instead of JSON.
CREATE TABLE record_lookup (
    entity TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    field TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX record_lookup_value_idx ON record_lookup (kind, value, entity);
CREATE INDEX record_lookup_record_idx ON record_lookup (entity, record_id);
CREATE INDEX record_lookup_field_idx ON record_lookup (entity, field, value);

CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    field TEXT,
    old_value TEXT,
    new_value TEXT,
    changed_at TEXT NOT NULL,
    changed_by INTEGER REFERENCES users(id)
);
CREATE INDEX history_record_idx ON history (entity, record_id, id);

CREATE TABLE stage_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deal_id INTEGER NOT NULL REFERENCES deals(id),
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    from_stage_id INTEGER REFERENCES stages(id),
    to_stage_id INTEGER NOT NULL REFERENCES stages(id),
    changed_at TEXT NOT NULL,
    changed_by INTEGER REFERENCES users(id),
    seconds_in_previous INTEGER
);
CREATE INDEX stage_changes_deal_idx ON stage_changes (deal_id, id);
CREATE INDEX stage_changes_stage_idx ON stage_changes (to_stage_id, changed_at);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE UNIQUE INDEX api_tokens_hash_key ON api_tokens (token_hash);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE idempotency_keys (
    user_id INTEGER NOT NULL REFERENCES users(id),
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    entity TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    deleted_at TEXT
);
CREATE INDEX attachments_record_idx ON attachments (entity, record_id);
