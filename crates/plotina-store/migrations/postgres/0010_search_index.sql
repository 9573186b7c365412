-- Word search without scanning: trigram GIN indexes over each record table's
-- `search_text`, used by the planner for `LIKE '%stem%'` (pg_trgm is a trusted extension:
-- the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX companies_search_trgm_idx ON companies USING gin (search_text gin_trgm_ops);
CREATE INDEX contacts_search_trgm_idx ON contacts USING gin (search_text gin_trgm_ops);
CREATE INDEX leads_search_trgm_idx ON leads USING gin (search_text gin_trgm_ops);
CREATE INDEX deals_search_trgm_idx ON deals USING gin (search_text gin_trgm_ops);
