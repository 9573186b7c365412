-- Indexes the reports aggregate on, so that a report reads an index instead of the
-- table rows (deals and activities are the two large tables). Few on purpose: every
-- index that holds `stage_id` is rewritten by every stage move (and every index costs
-- each imported row), so only three are added on deals, and two of them are partial so
-- that an ordinary move between open stages leaves them alone. Measured trade-off:
-- BENCHMARKS.md, "report indexes (migration 0025)". Partial on live records: every
-- report condition holds `deleted_at IS NULL`; `deleted_at` is nevertheless the last
-- column of each: SQLite counts an index as covering only when every column the
-- statement names is in it, the partial index's own condition included.

-- One manager's deals, for every report (the rating, forecast, sources, by industry,
-- ABC/XYZ, DAM, overdue children): a seek, with every column those reports read, so
-- none visits the table. Read whole, in owner order, it also gives the rating's
-- per-owner counts for the whole base without a sort.
CREATE INDEX IF NOT EXISTS deals_report_owner_idx
    ON deals (owner_id, stage_id, closed_at, created_at, amount, company_id, source,
              parent_id, close_date, probability, deleted_at)
    WHERE deleted_at IS NULL;

-- Closed deals by stage and closing time: won deals of a span (forecast actuals,
-- ABC/XYZ, DAM) and lost ones with their reason (DAM). Only deals with a closing time
-- are in it, so a move between open stages does not touch it.
CREATE INDEX IF NOT EXISTS deals_report_closed_idx
    ON deals (stage_id, closed_at, company_id, amount, owner_id, created_at, lost_reason,
              deleted_at)
    WHERE closed_at IS NOT NULL AND deleted_at IS NULL;

-- Overdue child deals: the few open children past their date, without visiting every
-- open deal of the base. Only child deals are in it.
CREATE INDEX IF NOT EXISTS deals_children_due_idx
    ON deals (stage_id, close_date, parent_id, deleted_at)
    WHERE parent_id IS NOT NULL AND deleted_at IS NULL;

-- The manager rating: activities per kind and person (the assignee, else the owner:
-- the same expression the report groups by), with the task state and dates. The kind
-- leads so that SQLite prefers it to `activities_task_due_idx` (which needs every
-- row); the person follows, so one manager's figures are a seek.
CREATE INDEX IF NOT EXISTS activities_kind_person_idx
    ON activities (kind, COALESCE(assignee_id, owner_id), done, due_at, done_at,
                   assignee_id, owner_id, deleted_at)
    WHERE deleted_at IS NULL;
