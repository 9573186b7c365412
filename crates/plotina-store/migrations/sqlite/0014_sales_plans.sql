-- Sales plans: an amount (kopecks) per month for the whole company, a department or a
-- user. `target` is 'all', 'department:<id>' or 'user:<id>'; one plan per target and month.
CREATE TABLE sales_plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    month TEXT NOT NULL,
    target TEXT NOT NULL,
    amount INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by INTEGER REFERENCES users(id),
    UNIQUE (month, target)
);
