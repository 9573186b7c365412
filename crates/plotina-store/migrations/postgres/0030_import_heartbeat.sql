-- When the process running an import last committed a chunk (or created the batch). A
-- batch still `running` whose heartbeat is old was left by a process that stopped; the
-- next server start (or CLI import) marks it `interrupted`.
ALTER TABLE import_batches ADD COLUMN heartbeat_at TIMESTAMPTZ;
