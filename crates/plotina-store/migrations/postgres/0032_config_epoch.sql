-- The settings epoch (see config_cache.rs): a value every change of the settings that
-- writes read on their way takes anew — automation rules (not the scheduler's progress
-- mark), webhook subscriptions (not their delivery counters), custom fields, pipelines
-- and stages. A process keeps those settings in memory and checks with one read of this
-- row that they still hold. The value is drawn, never incremented, so the epoch of a
-- change that was rolled back never comes back.
CREATE TABLE config_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO config_epoch (id, epoch) VALUES (1, 0);
-- A sequence is not rolled back with the transaction that drew from it.
CREATE SEQUENCE config_epoch_seq;
CREATE FUNCTION config_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE config_epoch SET epoch = nextval('config_epoch_seq') WHERE id = 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER config_epoch_automation_rules AFTER INSERT OR DELETE OR UPDATE OF name, entity, pipeline_id, trigger_spec, condition, actions, enabled, webhook_token, created_by ON automation_rules
    FOR EACH STATEMENT EXECUTE FUNCTION config_epoch_bump();
CREATE TRIGGER config_epoch_webhook_subscriptions AFTER INSERT OR DELETE OR UPDATE OF url, events, entity, secret, enabled, max_failures ON webhook_subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION config_epoch_bump();
CREATE TRIGGER config_epoch_custom_fields AFTER INSERT OR UPDATE OR DELETE ON custom_fields
    FOR EACH STATEMENT EXECUTE FUNCTION config_epoch_bump();
CREATE TRIGGER config_epoch_pipelines AFTER INSERT OR UPDATE OR DELETE ON pipelines
    FOR EACH STATEMENT EXECUTE FUNCTION config_epoch_bump();
CREATE TRIGGER config_epoch_stages AFTER INSERT OR UPDATE OR DELETE ON stages
    FOR EACH STATEMENT EXECUTE FUNCTION config_epoch_bump();
