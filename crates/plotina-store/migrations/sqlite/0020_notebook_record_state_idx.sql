-- Items of a record are closed by state and kind on every stage move and reassignment
-- ("close the open stale-deal items of deal N"). With only (entity, record_id) indexed,
-- a record with many items (a long-lived deal, its closed reminders) had all of them
-- read for each move; the state and kind in the index narrow that to the open ones.
DROP INDEX notebook_items_record_idx;
CREATE INDEX notebook_items_record_idx ON notebook_items (entity, record_id, state, kind);
