-- Reports e-mailed on a schedule: a report kind (`funnel`, `forecast`, …) with its
-- parameters as a query string, weekly (day = ISO weekday, 1 = Monday) or monthly
-- (day of the month; a shorter month uses its last day), at `hour` in `time_zone`.
-- `next_due` is the next instant to send; the job advances it in the transaction that
-- queues the mails, so each due time is sent once.
CREATE TABLE report_schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    report TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '',
    frequency TEXT NOT NULL,
    day INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    time_zone TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    next_due TEXT NOT NULL,
    last_sent_at TEXT,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX report_schedules_due_idx ON report_schedules (enabled, next_due);

-- Who receives a scheduled report, each computed with their own permissions.
CREATE TABLE report_schedule_recipients (
    schedule_id INTEGER NOT NULL REFERENCES report_schedules(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (schedule_id, user_id)
);
