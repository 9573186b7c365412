-- The settings epoch (see config_cache.rs): a value every change of the settings that
-- writes read on their way takes anew — automation rules (not the scheduler's progress
-- mark), webhook subscriptions (not their delivery counters), custom fields, pipelines
-- and stages. A process keeps those settings in memory and checks with one read of this
-- row that they still hold. The value is drawn, never incremented, so the epoch of a
-- change that was rolled back never comes back.
CREATE TABLE config_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
);
INSERT INTO config_epoch (id, epoch) VALUES (1, 0);
CREATE TRIGGER config_epoch_automation_rules_insert AFTER INSERT ON automation_rules BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_automation_rules_update AFTER UPDATE OF name, entity, pipeline_id, trigger_spec, condition, actions, enabled, webhook_token, created_by ON automation_rules BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_automation_rules_delete AFTER DELETE ON automation_rules BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_webhook_subscriptions_insert AFTER INSERT ON webhook_subscriptions BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_webhook_subscriptions_update AFTER UPDATE OF url, events, entity, secret, enabled, max_failures ON webhook_subscriptions BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_webhook_subscriptions_delete AFTER DELETE ON webhook_subscriptions BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_custom_fields_insert AFTER INSERT ON custom_fields BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_custom_fields_update AFTER UPDATE ON custom_fields BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_custom_fields_delete AFTER DELETE ON custom_fields BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_pipelines_insert AFTER INSERT ON pipelines BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_pipelines_update AFTER UPDATE ON pipelines BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_pipelines_delete AFTER DELETE ON pipelines BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_stages_insert AFTER INSERT ON stages BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_stages_update AFTER UPDATE ON stages BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_stages_delete AFTER DELETE ON stages BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
