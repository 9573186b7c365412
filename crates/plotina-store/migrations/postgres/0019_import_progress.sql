-- Rows an import has written so far (committed chunks), for the progress shown while an
-- import runs in the background.
ALTER TABLE import_batches ADD COLUMN rows_done BIGINT NOT NULL DEFAULT 0;
