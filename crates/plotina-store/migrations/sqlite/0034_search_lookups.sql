-- Global search by a part of an e-mail or a phone through the (kind, value, entity)
-- index of `record_lookup` (see `lookup::derived`, which writes the same rows for new
-- values): the domain of every e-mail (what follows its first '@') and the digits of
-- every phone in reverse order, so that the tail of a number is a prefix of the value.
-- Phones are E.164 ('+' and at most 15 digits); SQLite has no reverse(), so the digits
-- are read from the right one by one.
DELETE FROM record_lookup WHERE kind IN ('email_domain', 'phone_rev');

INSERT INTO record_lookup (entity, record_id, field, kind, value)
SELECT entity, record_id, field, 'email_domain', substr(value, instr(value, '@') + 1)
FROM record_lookup
WHERE kind = 'email' AND instr(value, '@') > 0 AND instr(value, '@') < length(value);

INSERT INTO record_lookup (entity, record_id, field, kind, value)
SELECT entity, record_id, field, 'phone_rev',
       substr(d, -1, 1) || substr(d, -2, 1) || substr(d, -3, 1) || substr(d, -4, 1) ||
       substr(d, -5, 1) || substr(d, -6, 1) || substr(d, -7, 1) || substr(d, -8, 1) ||
       substr(d, -9, 1) || substr(d, -10, 1) || substr(d, -11, 1) || substr(d, -12, 1) ||
       substr(d, -13, 1) || substr(d, -14, 1) || substr(d, -15, 1)
FROM (
    SELECT entity, record_id, field, replace(value, '+', '') AS d
    FROM record_lookup
    WHERE kind = 'phone'
)
WHERE d <> '';

-- An INN typed in the search box is looked up in leads as well as in companies.
CREATE INDEX IF NOT EXISTS leads_inn_idx ON leads (inn);
