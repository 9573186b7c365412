-- Saved list views (filter, sort, columns) of the web interface: personal or shared.
CREATE TABLE saved_views (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    name TEXT NOT NULL,
    filter TEXT NOT NULL DEFAULT '',
    sort TEXT NOT NULL DEFAULT '',
    columns TEXT NOT NULL DEFAULT '',
    owner_id INTEGER NOT NULL REFERENCES users(id),
    shared INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX saved_views_entity_idx ON saved_views (entity, owner_id);
