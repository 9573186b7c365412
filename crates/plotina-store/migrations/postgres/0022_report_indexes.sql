-- The funnel and velocity reports aggregate in SQL per deal: the stage moves of a deal
-- (which stages it entered, how long it stayed in each) are read from the index alone,
-- and the last touch of a deal (its newest live activity) is the last entry of a range.
CREATE INDEX stage_changes_funnel_idx
    ON stage_changes (deal_id, pipeline_id, to_stage_id, from_stage_id, seconds_in_previous);
CREATE INDEX activities_deal_touch_idx ON activities (deal_id, deleted_at, updated_at);
-- Open deals without an open activity (the dashboard): answered from the index.
CREATE INDEX activities_deal_open_idx ON activities (deal_id, done, deleted_at);
-- Tasks overdue now (the dashboard): a range of the index instead of every activity.
CREATE INDEX activities_task_due_idx ON activities (kind, done, due_at);
