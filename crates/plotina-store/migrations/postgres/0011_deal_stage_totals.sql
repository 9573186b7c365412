-- Kanban column totals kept up to date by a trigger: deals and their amount per pipeline,
-- stage, owner and currency, for live (not trashed) deals. Every writer (the record
-- engine, imports, merges, demo data, engine-to-engine copies) goes through the trigger,
-- so the totals cannot drift; a board without a filter sums a few rows instead of
-- aggregating the whole pipeline. Owner 0 stands for "no owner".
CREATE TABLE deal_stage_totals (
    pipeline_id BIGINT NOT NULL,
    stage_id BIGINT NOT NULL,
    owner_id BIGINT NOT NULL,
    currency TEXT NOT NULL,
    deals BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (pipeline_id, stage_id, owner_id, currency)
);

INSERT INTO deal_stage_totals (pipeline_id, stage_id, owner_id, currency, deals, amount)
SELECT pipeline_id, stage_id, COALESCE(owner_id, 0), currency, COUNT(*), COALESCE(SUM(amount), 0)
FROM deals WHERE deleted_at IS NULL
GROUP BY pipeline_id, stage_id, COALESCE(owner_id, 0), currency;

CREATE FUNCTION deal_stage_totals_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
        UPDATE deal_stage_totals
        SET deals = deals - 1, amount = amount - COALESCE(OLD.amount, 0)
        WHERE pipeline_id = OLD.pipeline_id AND stage_id = OLD.stage_id
          AND owner_id = COALESCE(OLD.owner_id, 0) AND currency = OLD.currency;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.deleted_at IS NULL THEN
        INSERT INTO deal_stage_totals (pipeline_id, stage_id, owner_id, currency, deals, amount)
        VALUES (NEW.pipeline_id, NEW.stage_id, COALESCE(NEW.owner_id, 0), NEW.currency, 1,
                COALESCE(NEW.amount, 0))
        ON CONFLICT (pipeline_id, stage_id, owner_id, currency) DO UPDATE
        SET deals = deal_stage_totals.deals + 1,
            amount = deal_stage_totals.amount + EXCLUDED.amount;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER deal_stage_totals_insert_delete AFTER INSERT OR DELETE ON deals
FOR EACH ROW EXECUTE FUNCTION deal_stage_totals_track();
CREATE TRIGGER deal_stage_totals_update
AFTER UPDATE OF pipeline_id, stage_id, owner_id, currency, amount, deleted_at ON deals
FOR EACH ROW EXECUTE FUNCTION deal_stage_totals_track();

-- The first cards of a column, newest first, without reading the whole stage: a closed
-- stage holds most of a pipeline's deals.
CREATE INDEX deals_stage_updated_idx ON deals (stage_id, updated_at, id);
