-- Word search reads one posting list per query word. A query word is a stem matched as a
-- word prefix (`"оборудован"*`); FTS5 answers a prefix from a prefix index only when the
-- index was built for exactly that length, and otherwise merges the lists of every word
-- that starts with it (92,000 deals for «оборудован», 5-7 ms) before it can return the
-- first row. The indexes now hold every prefix of 1 to 12 letters, so a prefix query reads
-- one list lazily and newest first, and stops after the page (stems longer than 12 letters
-- start few words). Costs: the deals' index grows from 35 to 128 MB on the medium data set.
--
-- A rebuild leaves the index in a dozen segments, each searched by every query (the search
-- spent a third of its time opening them); `optimize` merges them into one.
--
-- The index is rewritten only when the text changed: the record engine writes
-- `search_text` on every update (a stage move too), which made every write delete and
-- re-add the record's words.

DROP TRIGGER fts_companies_update;
DROP TABLE fts_companies;
CREATE VIRTUAL TABLE fts_companies USING fts5(
    search_text, content = 'companies', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1 2 3 4 5 6 7 8 9 10 11 12'
);
CREATE TRIGGER fts_companies_update AFTER UPDATE OF search_text ON companies
WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO fts_companies (fts_companies, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO fts_companies (rowid, search_text) VALUES (new.id, new.search_text);
END;
INSERT INTO fts_companies (fts_companies) VALUES ('rebuild');
INSERT INTO fts_companies (fts_companies) VALUES ('optimize');

DROP TRIGGER fts_contacts_update;
DROP TABLE fts_contacts;
CREATE VIRTUAL TABLE fts_contacts USING fts5(
    search_text, content = 'contacts', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1 2 3 4 5 6 7 8 9 10 11 12'
);
CREATE TRIGGER fts_contacts_update AFTER UPDATE OF search_text ON contacts
WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO fts_contacts (fts_contacts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO fts_contacts (rowid, search_text) VALUES (new.id, new.search_text);
END;
INSERT INTO fts_contacts (fts_contacts) VALUES ('rebuild');
INSERT INTO fts_contacts (fts_contacts) VALUES ('optimize');

DROP TRIGGER fts_leads_update;
DROP TABLE fts_leads;
CREATE VIRTUAL TABLE fts_leads USING fts5(
    search_text, content = 'leads', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1 2 3 4 5 6 7 8 9 10 11 12'
);
CREATE TRIGGER fts_leads_update AFTER UPDATE OF search_text ON leads
WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO fts_leads (fts_leads, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO fts_leads (rowid, search_text) VALUES (new.id, new.search_text);
END;
INSERT INTO fts_leads (fts_leads) VALUES ('rebuild');
INSERT INTO fts_leads (fts_leads) VALUES ('optimize');

DROP TRIGGER fts_deals_update;
DROP TABLE fts_deals;
CREATE VIRTUAL TABLE fts_deals USING fts5(
    search_text, content = 'deals', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1 2 3 4 5 6 7 8 9 10 11 12'
);
CREATE TRIGGER fts_deals_update AFTER UPDATE OF search_text ON deals
WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO fts_deals (fts_deals, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO fts_deals (rowid, search_text) VALUES (new.id, new.search_text);
END;
INSERT INTO fts_deals (fts_deals) VALUES ('rebuild');
INSERT INTO fts_deals (fts_deals) VALUES ('optimize');

-- Kanban totals keyed by pipeline, stage, currency, then owner, stored in key order: a
-- board sums its columns' rows in the order they are stored instead of sorting the
-- pipeline's rows (a row per owner: 933 in the medium set's first pipeline) for every
-- request. The triggers are the same; they are dropped while the table is rebuilt.
DROP TRIGGER deal_stage_totals_insert;
DROP TRIGGER deal_stage_totals_delete;
DROP TRIGGER deal_stage_totals_update;
CREATE TABLE deal_stage_totals_by_currency (
    pipeline_id INTEGER NOT NULL,
    stage_id INTEGER NOT NULL,
    currency TEXT NOT NULL,
    owner_id INTEGER NOT NULL,
    deals INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (pipeline_id, stage_id, currency, owner_id)
) WITHOUT ROWID;
INSERT INTO deal_stage_totals_by_currency (pipeline_id, stage_id, currency, owner_id, deals, amount)
SELECT pipeline_id, stage_id, currency, owner_id, deals, amount FROM deal_stage_totals;
DROP TABLE deal_stage_totals;
ALTER TABLE deal_stage_totals_by_currency RENAME TO deal_stage_totals;

CREATE TRIGGER deal_stage_totals_insert AFTER INSERT ON deals
WHEN new.deleted_at IS NULL BEGIN
    INSERT INTO deal_stage_totals (pipeline_id, stage_id, owner_id, currency, deals, amount)
    VALUES (new.pipeline_id, new.stage_id, COALESCE(new.owner_id, 0), new.currency, 1,
            COALESCE(new.amount, 0))
    ON CONFLICT (pipeline_id, stage_id, currency, owner_id) DO UPDATE
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
    ON CONFLICT (pipeline_id, stage_id, currency, owner_id) DO UPDATE
    SET deals = deals + 1, amount = amount + excluded.amount;
END;
