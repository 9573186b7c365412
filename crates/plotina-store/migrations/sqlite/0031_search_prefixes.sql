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
