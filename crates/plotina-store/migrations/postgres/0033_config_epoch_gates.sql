-- Notebook gates join the settings epoch (0032): a deal move reads its action's gates
-- from the settings cache.
CREATE TRIGGER config_epoch_notebook_gates AFTER INSERT OR UPDATE OR DELETE ON notebook_gates
    FOR EACH STATEMENT EXECUTE FUNCTION config_epoch_bump();
