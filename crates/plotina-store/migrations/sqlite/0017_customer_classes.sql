-- Customer classes (ABC/XYZ) stored per company: recalculated over the whole base on a
-- schedule (or by hand), with a manual override and the history of every change.

-- One calculation. `period_key` is the schedule period a scheduled run covers
-- ('2026-11' monthly, '2026-W47' weekly, '2026-11-24' daily); it is unique so two
-- servers never run the same period twice. Runs by hand leave it NULL.
CREATE TABLE customer_class_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    calculated_at TEXT NOT NULL,
    period_key TEXT UNIQUE,
    window_from TEXT NOT NULL,
    window_to TEXT NOT NULL,
    thresholds TEXT NOT NULL,
    customers INTEGER NOT NULL,
    changed INTEGER NOT NULL,
    source TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id)
);
CREATE INDEX customer_class_runs_at_idx ON customer_class_runs (calculated_at);

-- The current class of a company. `abc`/`xyz` and the figures are the last
-- calculation's (NULL when the company bought nothing in its window); `override_*` is
-- the manual class, which wins over the computed one when set. Share and coefficient
-- of variation are in ten-thousandths (0.7143 → 7143).
CREATE TABLE customer_classes (
    company_id INTEGER PRIMARY KEY REFERENCES companies(id) ON DELETE CASCADE,
    run_id INTEGER REFERENCES customer_class_runs(id),
    abc TEXT,
    xyz TEXT,
    revenue INTEGER NOT NULL DEFAULT 0,
    deals INTEGER NOT NULL DEFAULT 0,
    share_e4 INTEGER NOT NULL DEFAULT 0,
    cv_e4 INTEGER NOT NULL DEFAULT 0,
    calculated_at TEXT,
    override_abc TEXT,
    override_xyz TEXT,
    override_reason TEXT,
    override_by INTEGER REFERENCES users(id),
    override_at TEXT
);
CREATE INDEX customer_classes_class_idx ON customer_classes (abc, xyz);

-- Every change of a company's class: by a calculation (`kind` 'calculation', with the
-- run) or by hand ('override', 'override_cleared', with who and why). NULL classes
-- mean "none" (first classified, or no purchases in the window any more).
CREATE TABLE customer_class_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    run_id INTEGER REFERENCES customer_class_runs(id),
    old_abc TEXT,
    old_xyz TEXT,
    new_abc TEXT,
    new_xyz TEXT,
    reason TEXT,
    changed_at TEXT NOT NULL,
    changed_by INTEGER REFERENCES users(id)
);
CREATE INDEX customer_class_changes_company_idx ON customer_class_changes (company_id, id);
CREATE INDEX customer_class_changes_run_idx ON customer_class_changes (run_id);
