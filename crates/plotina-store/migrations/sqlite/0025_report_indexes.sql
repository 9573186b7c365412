-- Indexes the reports aggregate on, so that a report reads an index instead of the
-- table rows (deals and activities are the two large tables). Partial on live records:
-- every report condition holds `deleted_at IS NULL`. `deleted_at` is nevertheless the
-- last column of each: SQLite counts an index as covering only when every column the
-- statement names is in it, the partial index's own condition included.

-- The manager rating: deals created and closed per owner, with the stage, dates and
-- amount in the index so counts, sums and cycle lengths need no table row; a single
-- owner's figures are a seek.
CREATE INDEX IF NOT EXISTS deals_owner_stage_closed_idx
    ON deals (owner_id, stage_id, closed_at, created_at, amount, deleted_at) WHERE deleted_at IS NULL;

-- The manager rating: activities per person (the assignee, else the owner: the same
-- expression the report groups by) and kind, with the task state and dates.
CREATE INDEX IF NOT EXISTS activities_person_kind_idx
    ON activities (COALESCE(assignee_id, owner_id), kind, done, due_at, done_at, assignee_id,
              owner_id, deleted_at)
    WHERE deleted_at IS NULL;

-- Overdue child deals: the few open children past their date, without visiting every
-- open deal of the base.
CREATE INDEX IF NOT EXISTS deals_children_due_idx
    ON deals (stage_id, close_date, parent_id, deleted_at) WHERE parent_id IS NOT NULL AND deleted_at IS NULL;

-- Deals per client (by industry, ABC/XYZ, DAM): the stage, closing date, amount and
-- creation date next to the company, so per-company sums read only the index.
CREATE INDEX IF NOT EXISTS deals_company_stage_idx
    ON deals (company_id, stage_id, closed_at, amount, created_at, deleted_at) WHERE deleted_at IS NULL;

-- Deals of some stages: won ones closed in a span of time (forecast actuals, ABC/XYZ,
-- DAM) are a seek per stage and a range of closing dates; open ones (the forecast's
-- pipeline) a seek per stage. The client, amount, owner, dates and probability are in
-- the index so neither visits the table.
CREATE INDEX IF NOT EXISTS deals_stage_closed_idx
    ON deals (stage_id, closed_at, company_id, amount, owner_id, created_at, close_date,
              probability, deleted_at)
    WHERE deleted_at IS NULL;

-- Deals by source: the sums per source read in source order from the index alone.
CREATE INDEX IF NOT EXISTS deals_source_idx
    ON deals (source, parent_id, stage_id, created_at, closed_at, amount, deleted_at)
    WHERE deleted_at IS NULL;
