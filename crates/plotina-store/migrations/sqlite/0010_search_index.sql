-- Word search without scanning: a full-text index of the words of each record table's
-- `search_text` (already lower-cased, ё as е), kept in step by triggers in the writing
-- transaction. A query word's stem is looked up as a word prefix (`"постав"*`); diacritics
-- are kept so that й stays й.

CREATE VIRTUAL TABLE fts_companies USING fts5(
    search_text, content = 'companies', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0', prefix = '3'
);
CREATE TRIGGER fts_companies_insert AFTER INSERT ON companies BEGIN
    INSERT INTO fts_companies (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER fts_companies_delete AFTER DELETE ON companies BEGIN
    INSERT INTO fts_companies (fts_companies, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER fts_companies_update AFTER UPDATE OF search_text ON companies BEGIN
    INSERT INTO fts_companies (fts_companies, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO fts_companies (rowid, search_text) VALUES (new.id, new.search_text);
END;
INSERT INTO fts_companies (fts_companies) VALUES ('rebuild');

CREATE VIRTUAL TABLE fts_contacts USING fts5(
    search_text, content = 'contacts', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0', prefix = '3'
);
CREATE TRIGGER fts_contacts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO fts_contacts (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER fts_contacts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO fts_contacts (fts_contacts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER fts_contacts_update AFTER UPDATE OF search_text ON contacts BEGIN
    INSERT INTO fts_contacts (fts_contacts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO fts_contacts (rowid, search_text) VALUES (new.id, new.search_text);
END;
INSERT INTO fts_contacts (fts_contacts) VALUES ('rebuild');

CREATE VIRTUAL TABLE fts_leads USING fts5(
    search_text, content = 'leads', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0', prefix = '3'
);
CREATE TRIGGER fts_leads_insert AFTER INSERT ON leads BEGIN
    INSERT INTO fts_leads (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER fts_leads_delete AFTER DELETE ON leads BEGIN
    INSERT INTO fts_leads (fts_leads, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER fts_leads_update AFTER UPDATE OF search_text ON leads BEGIN
    INSERT INTO fts_leads (fts_leads, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO fts_leads (rowid, search_text) VALUES (new.id, new.search_text);
END;
INSERT INTO fts_leads (fts_leads) VALUES ('rebuild');

CREATE VIRTUAL TABLE fts_deals USING fts5(
    search_text, content = 'deals', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0', prefix = '3'
);
CREATE TRIGGER fts_deals_insert AFTER INSERT ON deals BEGIN
    INSERT INTO fts_deals (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER fts_deals_delete AFTER DELETE ON deals BEGIN
    INSERT INTO fts_deals (fts_deals, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER fts_deals_update AFTER UPDATE OF search_text ON deals BEGIN
    INSERT INTO fts_deals (fts_deals, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO fts_deals (rowid, search_text) VALUES (new.id, new.search_text);
END;
INSERT INTO fts_deals (fts_deals) VALUES ('rebuild');
