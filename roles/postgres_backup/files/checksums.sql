-- Row count and an order-independent checksum of every table of the database (psql -X -At -F '|' < this file):
-- one line "schema.table|rows|md5" per table (the md5 of the sorted md5s of the rows' text).
SELECT format('SELECT %L, count(*), coalesce(md5(string_agg(r.h, %L ORDER BY r.h)), %L) FROM (SELECT md5(t::text) AS h FROM %I.%I t) r',
              n.nspname || '.' || c.relname, '', '', n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
 ORDER BY n.nspname, c.relname
\gexec
