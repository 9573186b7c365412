-- Duplicate detection: lossy match keys of record names (`core::types::names`), kept
-- next to the record so that the create/edit check and the finder over the whole base
-- are index look-ups and GROUP BYs, never a comparison of every pair. Phones, e-mails and
-- INNs need no copy here: they are already indexed (`record_lookup`, `companies.inn`).
CREATE TABLE dedup_keys (
    entity TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (entity, record_id, kind)
);
CREATE INDEX dedup_keys_value_idx ON dedup_keys (kind, value, entity);

-- Merges of duplicates, with what an undo needs: the rows as they were before the
-- merge (`snapshot`: [{entity, record}]), the versions they had after it (an undo is
-- refused once any of them changed again), and the moved attachments and notebook items.
CREATE TABLE merges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    survivor_id INTEGER NOT NULL,
    victim_ids TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    after_versions TEXT NOT NULL,
    moved TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    undone_at TEXT,
    undone_by INTEGER REFERENCES users(id)
);
CREATE INDEX merges_survivor_idx ON merges (entity, survivor_id);
