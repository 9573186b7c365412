-- Hours an approval request waits for its approver before it moves one level up, per
-- pipeline (1..720; NULL means the default, 24).
ALTER TABLE pipelines ADD COLUMN approval_escalation_hours INTEGER DEFAULT 24;
