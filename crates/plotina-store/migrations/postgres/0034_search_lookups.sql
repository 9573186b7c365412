-- Global search by a part of an e-mail or a phone through the (kind, value, entity)
-- index of `record_lookup` (see `lookup::derived`, which writes the same rows for new
-- values): the domain of every e-mail (what follows its first '@') and the digits of
-- every phone in reverse order, so that the tail of a number is a prefix of the value.
DELETE FROM record_lookup WHERE kind IN ('email_domain', 'phone_rev');

INSERT INTO record_lookup (entity, record_id, field, kind, value)
SELECT entity, record_id, field, 'email_domain', substr(value, strpos(value, '@') + 1)
FROM record_lookup
WHERE kind = 'email' AND strpos(value, '@') > 0 AND strpos(value, '@') < length(value);

INSERT INTO record_lookup (entity, record_id, field, kind, value)
SELECT entity, record_id, field, 'phone_rev', reverse(replace(value, '+', ''))
FROM record_lookup
WHERE kind = 'phone' AND replace(value, '+', '') <> '';

-- Look-up values are keys (lower-cased e-mails, E.164 phones, ids), compared byte by
-- byte: a prefix search is a range `value >= p AND value < p || U+10FFFF`, which only
-- holds in code point order. Under a linguistic collation (ru_RU, en_US) punctuation
-- such as '@' and '.' is ignored at the first level and the range would miss values;
-- "C" makes the range exact and lets the (kind, value, entity) index serve it.
ALTER TABLE record_lookup ALTER COLUMN value TYPE text COLLATE "C";

-- An INN typed in the search box is looked up in leads as well as in companies.
CREATE INDEX IF NOT EXISTS leads_inn_idx ON leads (inn);
