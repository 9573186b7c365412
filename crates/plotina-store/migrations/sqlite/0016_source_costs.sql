-- Marketing costs: what a source of first contact (the `source` of leads and deals) cost
-- in a month, in kopecks. `month` is the first day of the month; one row per source and
-- month. The sources report divides these by the leads and won deals of the source.
CREATE TABLE source_costs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    month TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount >= 0),
    updated_at TEXT NOT NULL,
    updated_by INTEGER REFERENCES users(id),
    UNIQUE (source, month)
);
CREATE INDEX source_costs_month_idx ON source_costs (month);

-- Reports select deals created or closed in a period (the sources report both at once,
-- which both engines answer with an OR of two index ranges).
CREATE INDEX IF NOT EXISTS deals_created_at_idx ON deals (created_at);
CREATE INDEX IF NOT EXISTS deals_closed_at_idx ON deals (closed_at);
