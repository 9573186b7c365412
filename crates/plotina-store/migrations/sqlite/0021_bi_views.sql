-- Read-only views for BI tools (docs/bi.md): the live records with the names a report
-- needs joined in, money in roubles next to kopecks, no deleted rows and no secrets
-- (no logins, password hashes, tokens or search columns). A migration that rebuilds one
-- of the tables below must drop and recreate the views that read it.
CREATE VIEW bi_departments AS
SELECT d.id, d.name, d.parent_id, d.head_id
FROM departments d WHERE d.deleted_at IS NULL;

CREATE VIEW bi_users AS
SELECT u.id, u.name, u.email, u.department_id, d.name AS department, r.name AS role, u.active
FROM users u
LEFT JOIN departments d ON d.id = u.department_id
LEFT JOIN roles r ON r.id = u.role_id
WHERE u.deleted_at IS NULL;

CREATE VIEW bi_pipelines AS
SELECT p.id, p.name, p.department_id, p.position, p.active
FROM pipelines p WHERE p.deleted_at IS NULL;

CREATE VIEW bi_stages AS
SELECT s.id, s.pipeline_id, s.name, s.kind, s.position, s.probability, s.rotten_days
FROM stages s WHERE s.deleted_at IS NULL;

CREATE VIEW bi_companies AS
SELECT c.id, c.name, c.legal_name, c.inn, c.kpp, c.industry, c.roles, c.source, c.website,
       c.owner_id, u.name AS owner, u.department_id, c.tags, c.custom, c.created_at, c.updated_at
FROM companies c LEFT JOIN users u ON u.id = c.owner_id
WHERE c.deleted_at IS NULL;

CREATE VIEW bi_contacts AS
SELECT c.id, c.full_name, c.last_name, c.first_name, c.middle_name, c.position, c.companies,
       c.birthday, c.source, c.owner_id, u.name AS owner, u.department_id, c.tags, c.custom,
       c.created_at, c.updated_at
FROM contacts c LEFT JOIN users u ON u.id = c.owner_id
WHERE c.deleted_at IS NULL;

CREATE VIEW bi_leads AS
SELECT l.id, l.title, l.source, l.status, l.junk_reason, l.amount AS amount_kopecks,
       ROUND(l.amount / 100.0, 2) AS amount_rub, l.company_id, l.contact_id, l.deal_id, l.owner_id,
       u.name AS owner, u.department_id, l.tags, l.custom, l.created_at, l.converted_at
FROM leads l LEFT JOIN users u ON u.id = l.owner_id
WHERE l.deleted_at IS NULL;

CREATE VIEW bi_deals AS
SELECT d.id, d.title, d.pipeline_id, p.name AS pipeline, d.stage_id, s.name AS stage,
       s.kind AS stage_kind, d.amount AS amount_kopecks, ROUND(d.amount / 100.0, 2) AS amount_rub,
       d.currency, d.probability, d.discount_pct, d.close_date, d.company_id,
       c.name AS company, c.industry AS company_industry, d.source, d.lost_reason, d.parent_id,
       d.lead_id, d.planned_deadline, d.actual_deadline, d.owner_id, u.name AS owner,
       u.department_id, d.tags, d.custom, d.created_at, d.stage_changed_at, d.closed_at
FROM deals d
JOIN pipelines p ON p.id = d.pipeline_id
JOIN stages s ON s.id = d.stage_id
LEFT JOIN companies c ON c.id = d.company_id
LEFT JOIN users u ON u.id = d.owner_id
WHERE d.deleted_at IS NULL;

CREATE VIEW bi_activities AS
SELECT a.id, a.kind, a.subject, a.direction, a.due_at, a.duration_min, a.done, a.done_at,
       a.result, a.owner_id, u.name AS owner, u.department_id, a.assignee_id, a.company_id,
       a.contact_id, a.deal_id, a.lead_id, a.created_at
FROM activities a LEFT JOIN users u ON u.id = a.owner_id
WHERE a.deleted_at IS NULL;

CREATE VIEW bi_stage_changes AS
SELECT sc.id, sc.deal_id, sc.pipeline_id, sc.from_stage_id, sc.to_stage_id, sc.changed_at,
       sc.changed_by, sc.seconds_in_previous
FROM stage_changes sc;
