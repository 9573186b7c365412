-- Export limits: a row limit per role (NULL: no limit) and a fuller export log.
ALTER TABLE roles ADD COLUMN export_row_limit INTEGER;
ALTER TABLE export_log ADD COLUMN q TEXT;
ALTER TABLE export_log ADD COLUMN columns TEXT;
ALTER TABLE export_log ADD COLUMN source TEXT NOT NULL DEFAULT 'api';
CREATE INDEX export_log_user_idx ON export_log (user_id, created_at);
