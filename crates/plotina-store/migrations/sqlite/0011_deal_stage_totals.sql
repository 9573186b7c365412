-- Kanban column totals kept up to date by triggers: deals and their amount per pipeline,
-- stage, owner and currency, for live (not trashed) deals. Every writer (the record
-- engine, imports, merges, demo data, engine-to-engine copies) goes through the triggers,
-- so the totals cannot drift; a board without a filter sums a few rows instead of
-- aggregating the whole pipeline. Owner 0 stands for "no owner".
CREATE TABLE deal_stage_totals (
    pipeline_id INTEGER NOT NULL,
    stage_id INTEGER NOT NULL,
    owner_id INTEGER NOT NULL,
    currency TEXT NOT NULL,
    deals INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (pipeline_id, stage_id, owner_id, currency)
);

INSERT INTO deal_stage_totals (pipeline_id, stage_id, owner_id, currency, deals, amount)
SELECT pipeline_id, stage_id, COALESCE(owner_id, 0), currency, COUNT(*), COALESCE(SUM(amount), 0)
FROM deals WHERE deleted_at IS NULL
GROUP BY pipeline_id, stage_id, COALESCE(owner_id, 0), currency;

CREATE TRIGGER deal_stage_totals_insert AFTER INSERT ON deals
WHEN new.deleted_at IS NULL BEGIN
    INSERT INTO deal_stage_totals (pipeline_id, stage_id, owner_id, currency, deals, amount)
    VALUES (new.pipeline_id, new.stage_id, COALESCE(new.owner_id, 0), new.currency, 1,
            COALESCE(new.amount, 0))
    ON CONFLICT (pipeline_id, stage_id, owner_id, currency) DO UPDATE
    SET deals = deals + 1, amount = amount + excluded.amount;
END;

CREATE TRIGGER deal_stage_totals_delete AFTER DELETE ON deals
WHEN old.deleted_at IS NULL BEGIN
    UPDATE deal_stage_totals SET deals = deals - 1, amount = amount - COALESCE(old.amount, 0)
    WHERE pipeline_id = old.pipeline_id AND stage_id = old.stage_id
      AND owner_id = COALESCE(old.owner_id, 0) AND currency = old.currency;
END;

CREATE TRIGGER deal_stage_totals_update
AFTER UPDATE OF pipeline_id, stage_id, owner_id, currency, amount, deleted_at ON deals BEGIN
    UPDATE deal_stage_totals SET deals = deals - 1, amount = amount - COALESCE(old.amount, 0)
    WHERE old.deleted_at IS NULL
      AND pipeline_id = old.pipeline_id AND stage_id = old.stage_id
      AND owner_id = COALESCE(old.owner_id, 0) AND currency = old.currency;
    INSERT INTO deal_stage_totals (pipeline_id, stage_id, owner_id, currency, deals, amount)
    SELECT new.pipeline_id, new.stage_id, COALESCE(new.owner_id, 0), new.currency, 1,
           COALESCE(new.amount, 0)
    WHERE new.deleted_at IS NULL
    ON CONFLICT (pipeline_id, stage_id, owner_id, currency) DO UPDATE
    SET deals = deals + 1, amount = amount + excluded.amount;
END;

-- The first cards of a column, newest first, without reading the whole stage: a closed
-- stage holds most of a pipeline's deals.
CREATE INDEX deals_stage_updated_idx ON deals (stage_id, updated_at, id);
