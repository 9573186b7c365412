-- Settings the users edit in the application (not the server's config file), one JSON
-- document per key, e.g. 'rating_weights' of the manager rating.
CREATE TABLE app_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by INTEGER REFERENCES users(id)
);
