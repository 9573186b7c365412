-- Notebook gates join the settings epoch (0032): a deal move reads its action's gates
-- from the settings cache.
CREATE TRIGGER config_epoch_notebook_gates_insert AFTER INSERT ON notebook_gates BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_notebook_gates_update AFTER UPDATE ON notebook_gates BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
CREATE TRIGGER config_epoch_notebook_gates_delete AFTER DELETE ON notebook_gates BEGIN
    UPDATE config_epoch SET epoch = random() WHERE id = 1;
END;
