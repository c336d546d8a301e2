"""The shared server's schema: tables, row-level security, the group roles of each collection,
the functions that create collections and grant access, its version and upgrade steps.

Access is the database's job, not the app's: every table that holds text, vectors or files has
row-level security forced on it, so a login that opens psql with its own password sees exactly
what kbdesk shows it. Each collection has three group roles (read < write < admin); a login
reads a collection when it is a member of that collection's read role. The tables belong to a
role nobody logs in as (kbdesk_owner); the functions that create collections and grant access
run as that owner after checking the caller, so importers and readers need no DDL rights.
Passages live in one partition per collection, each with its own HNSW graph (searched without
filtering losses) and GIN keyword index, and so do their postings (each word of each passage with
its count: what BM25 reads); only the parent tables are granted, so a partition cannot be read
directly.
"""

from __future__ import annotations

SCHEMA_VERSION = 3
# MIGRATIONS[v]: statements (run as kbdesk_owner) from schema v - 1 to v, as the local catalog;
# a new server gets schema 1 and then every step, so the steps are what every server runs.
# Defined at the end of this module.
MIGRATIONS: dict[int, tuple[str, ...]]

MIN_PGVECTOR = (0, 8)
OWNER = "kbdesk_owner"  # owns the schema; NOLOGIN, BYPASSRLS, CREATEROLE
USERS = "kbdesk_user"  # every login granted any collection: schema and table privileges
ADMINS = "kbdesk_admins"  # may create collections
LEVELS = ("read", "write", "admin")
# kbdesk's own tokens (jieba for Chinese, client side) go through a text search configuration
# made to count as the local catalog's FTS5 index does (every word kept, a hyphenated word as its
# parts): BM25 then scores alike (bench_shared_server.py, parity). PostgreSQL's parser keeps each
# space-separated Chinese word whole. Schema 1 stemmed with Snowball's English stemmer
# (TS_CONFIG); from schema 2 a new collection stems with Porter's, as FTS5 ("monthly" is
# "monthli" there, "month" in Snowball's English), and each collection records its own
# (collections.words: one written before the upgrade keeps the stemmer its words were counted by).
TS_CONFIG = "kbdesk.words"
PORTER_CONFIG = "kbdesk.porter_words"

# Run as a superuser: the owner role has rights only a superuser can give.
ROLES = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER}') THEN
    CREATE ROLE {OWNER} NOLOGIN BYPASSRLS CREATEROLE;
  END IF;
END $$;
CREATE SCHEMA kbdesk AUTHORIZATION {OWNER};
"""

# Drops a collection's postings partition (schema 2) first, where there is one: deleting its
# documents would otherwise delete its postings row by row. Schema 1 had it without that line;
# MIGRATIONS replaces it.
_DROP_COLLECTION = """
CREATE OR REPLACE FUNCTION kbdesk.drop_collection(collection text)
    RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, kbdesk AS $f$
DECLARE
    cid integer;
    each_level text;
BEGIN
    cid := kbdesk.administered(collection);
    EXECUTE format('DROP TABLE IF EXISTS kbdesk.%I', format('postings_%s', cid));
    EXECUTE format('DROP TABLE kbdesk.%I', format('chunks_%s', cid));
    DELETE FROM kbdesk.documents WHERE collection_id = cid;
    DELETE FROM kbdesk.collections WHERE id = cid;
    FOREACH each_level IN ARRAY ARRAY['admin', 'write', 'read'] LOOP
        EXECUTE format('DROP ROLE %I', kbdesk.role_of(cid, each_level));
    END LOOP;
    INSERT INTO kbdesk.audit (collection_id, action, subject) VALUES (cid, 'drop', collection);
END $f$
"""

# Run as kbdesk_owner (SET ROLE), so that it owns every object and administers the group roles.
# {vectors}: the schema pgvector was installed in (the functions' search path leaves it out).
_TABLES = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{USERS}') THEN
    CREATE ROLE {USERS} NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ADMINS}') THEN
    CREATE ROLE {ADMINS} NOLOGIN;
  END IF;
END $$;
CREATE TABLE kbdesk.meta (key text PRIMARY KEY, value text NOT NULL);
-- English stemming without a stopword list (FTS5 indexes every word; document lengths count
-- them), a hyphenated word as its parts only (FTS5's unicode61 splits it).
CREATE TEXT SEARCH DICTIONARY kbdesk.english_stem (TEMPLATE = snowball, LANGUAGE = english);
CREATE TEXT SEARCH CONFIGURATION {TS_CONFIG} (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION {TS_CONFIG}
    ALTER MAPPING FOR asciiword, word, hword_asciipart, hword_part WITH kbdesk.english_stem;
ALTER TEXT SEARCH CONFIGURATION {TS_CONFIG} DROP MAPPING FOR asciihword, hword, numhword;
CREATE TABLE kbdesk.collections (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    embedder      text NOT NULL,
    dim           integer NOT NULL CHECK (dim BETWEEN 1 AND 2000),
    chunk_size    integer NOT NULL,
    chunk_overlap integer NOT NULL,
    created_by    name NOT NULL DEFAULT session_user,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE kbdesk.documents (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection_id integer NOT NULL REFERENCES kbdesk.collections(id) ON DELETE CASCADE,
    source        text NOT NULL,
    name          text NOT NULL,
    kind          text NOT NULL DEFAULT '',
    sha256        text NOT NULL,
    size          bigint NOT NULL DEFAULT 0,
    pages         integer NOT NULL DEFAULT 0,
    chunks        integer NOT NULL DEFAULT 0,
    tokens        bigint NOT NULL DEFAULT 0,
    chunking      integer NOT NULL DEFAULT 1,
    imported_by   name NOT NULL DEFAULT session_user,
    imported_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (collection_id, source)
);
CREATE INDEX documents_sha ON kbdesk.documents (collection_id, sha256);
CREATE TABLE kbdesk.files (
    doc_id        bigint PRIMARY KEY REFERENCES kbdesk.documents(id) ON DELETE CASCADE,
    collection_id integer NOT NULL,
    data          bytea NOT NULL
);
CREATE SEQUENCE kbdesk.chunk_ids;
CREATE TABLE kbdesk.chunks (
    collection_id integer NOT NULL,
    id            bigint NOT NULL DEFAULT nextval('kbdesk.chunk_ids'),
    doc_id        bigint NOT NULL REFERENCES kbdesk.documents(id) ON DELETE CASCADE,
    ordinal       integer NOT NULL,
    page          integer,
    char_start    integer NOT NULL,
    char_end      integer NOT NULL,
    boxes         text NOT NULL DEFAULT '[]',
    text          text NOT NULL,
    section       text NOT NULL DEFAULT '',
    keywords      tsvector NOT NULL,
    length        integer NOT NULL,
    embedding     vector NOT NULL,
    PRIMARY KEY (collection_id, id)
) PARTITION BY LIST (collection_id);
CREATE TABLE kbdesk.audit (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    who           name NOT NULL DEFAULT session_user,
    collection_id integer NOT NULL,
    action        text NOT NULL,
    subject       text NOT NULL DEFAULT ''
);
CREATE INDEX audit_collection ON kbdesk.audit (collection_id, at);

CREATE FUNCTION kbdesk.role_of(collection integer, level text) RETURNS name
    IMMUTABLE LANGUAGE sql AS $f$ SELECT format('kbdesk_%s_%s', collection, level)::name $f$;

-- The collections whose `level` role the current login holds. Reads the role catalog only (no
-- kbdesk table), so the policies below never recurse; used as an uncorrelated subquery
-- (`IN (SELECT ...)`), PostgreSQL evaluates it once per statement, not once per row.
CREATE FUNCTION kbdesk.granted(level text) RETURNS SETOF integer
    STABLE LANGUAGE sql SET search_path = pg_catalog AS $f$
    SELECT substring(r.rolname FROM '^kbdesk_([0-9]+)_')::integer FROM pg_roles r
    WHERE r.rolname ~ ('^kbdesk_[0-9]+_' || level || '$')
      AND pg_has_role(current_user, r.oid, 'MEMBER')
$f$;

ALTER TABLE kbdesk.collections ENABLE ROW LEVEL SECURITY;
ALTER TABLE kbdesk.collections FORCE ROW LEVEL SECURITY;
CREATE POLICY readers ON kbdesk.collections FOR SELECT
    USING (id IN (SELECT kbdesk.granted('read')));
ALTER TABLE kbdesk.audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE kbdesk.audit FORCE ROW LEVEL SECURITY;
CREATE POLICY admins ON kbdesk.audit FOR SELECT
    USING (collection_id IN (SELECT kbdesk.granted('admin')));

CREATE FUNCTION kbdesk.audit_document() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, kbdesk AS $f$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO kbdesk.audit (collection_id, action, subject)
        VALUES (NEW.collection_id, 'import', NEW.source);
        RETURN NEW;
    END IF;
    INSERT INTO kbdesk.audit (collection_id, action, subject)
    VALUES (OLD.collection_id, 'remove', OLD.source);
    RETURN OLD;
END $f$;
CREATE TRIGGER audited AFTER INSERT OR DELETE ON kbdesk.documents
    FOR EACH ROW EXECUTE FUNCTION kbdesk.audit_document();

CREATE FUNCTION kbdesk.refuse(message text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = message;
END $f$;

CREATE FUNCTION kbdesk.create_collection(
    collection text, embedder text, dim integer, chunk_size integer, chunk_overlap integer
) RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, kbdesk AS $f$
DECLARE
    new_id integer;
    part name;
BEGIN
    IF NOT pg_has_role(session_user, '{ADMINS}', 'MEMBER') THEN
        PERFORM kbdesk.refuse(format('%s may not create collections', session_user));
    END IF;
    INSERT INTO kbdesk.collections (name, embedder, dim, chunk_size, chunk_overlap, created_by)
    VALUES (collection, embedder, dim, chunk_size, chunk_overlap, session_user)
    RETURNING id INTO new_id;
    part := format('chunks_%s', new_id);
    EXECUTE format('CREATE TABLE kbdesk.%I PARTITION OF kbdesk.chunks FOR VALUES IN (%s)',
                   part, new_id);
    EXECUTE format('ALTER TABLE kbdesk.%I ENABLE ROW LEVEL SECURITY', part);
    EXECUTE format('ALTER TABLE kbdesk.%I FORCE ROW LEVEL SECURITY', part);
    EXECUTE format('CREATE INDEX ON kbdesk.%I USING hnsw ((embedding::{{vectors}}.vector(%s)) {{vectors}}.vector_cosine_ops)',
                   part, dim);
    EXECUTE format('CREATE INDEX ON kbdesk.%I USING gin (keywords)', part);
    EXECUTE format('CREATE INDEX ON kbdesk.%I (doc_id, ordinal)', part);
    EXECUTE format('CREATE ROLE %I NOLOGIN', kbdesk.role_of(new_id, 'read'));
    EXECUTE format('CREATE ROLE %I NOLOGIN', kbdesk.role_of(new_id, 'write'));
    EXECUTE format('CREATE ROLE %I NOLOGIN', kbdesk.role_of(new_id, 'admin'));
    EXECUTE format('GRANT %I TO %I', kbdesk.role_of(new_id, 'read'), kbdesk.role_of(new_id, 'write'));
    EXECUTE format('GRANT %I TO %I', kbdesk.role_of(new_id, 'write'), kbdesk.role_of(new_id, 'admin'));
    EXECUTE format('GRANT %I TO %I', kbdesk.role_of(new_id, 'admin'), session_user);
    EXECUTE format('GRANT {USERS} TO %I', session_user);
    INSERT INTO kbdesk.audit (collection_id, action, subject) VALUES (new_id, 'create', collection);
    RETURN new_id;
END $f$;

-- The id of a collection the caller administers; refused otherwise (whether or not it exists).
CREATE FUNCTION kbdesk.administered(collection text)
    RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, kbdesk AS $f$
DECLARE
    cid integer;
BEGIN
    SELECT id INTO cid FROM kbdesk.collections WHERE name = collection;
    IF cid IS NULL OR NOT pg_has_role(session_user, kbdesk.role_of(cid, 'admin'), 'MEMBER') THEN
        PERFORM kbdesk.refuse(format('%s does not administer a collection named %s',
                                     session_user, collection));
    END IF;
    RETURN cid;
END $f$;

-- Gives `login` exactly one level on a collection (none: level 'none'); the caller must be
-- that collection's administrator.
CREATE FUNCTION kbdesk.set_access(collection text, login name, level text)
    RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, kbdesk AS $f$
DECLARE
    cid integer;
    each_level text;
BEGIN
    cid := kbdesk.administered(collection);
    IF level NOT IN ('read', 'write', 'admin', 'none') THEN
        RAISE EXCEPTION 'unknown access level %', level;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = login AND rolcanlogin) THEN
        RAISE EXCEPTION USING ERRCODE = 'undefined_object',
            MESSAGE = format('there is no login named %s on this server', login);
    END IF;
    FOREACH each_level IN ARRAY ARRAY['read', 'write', 'admin'] LOOP
        EXECUTE format('REVOKE %I FROM %I', kbdesk.role_of(cid, each_level), login);
    END LOOP;
    IF level <> 'none' THEN
        EXECUTE format('GRANT %I TO %I', kbdesk.role_of(cid, level), login);
        EXECUTE format('GRANT {USERS} TO %I', login);
    END IF;
    INSERT INTO kbdesk.audit (collection_id, action, subject)
    VALUES (cid, 'access ' || level, login);
END $f$;

-- Removes a collection: its passages, files, partitions and group roles; administrators only.
{_DROP_COLLECTION};

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA kbdesk FROM PUBLIC;
-- Any login may read the schema's version (so kbdesk can say "not granted" rather than "not
-- prepared"); everything else needs kbdesk_user, and row-level security.
GRANT USAGE ON SCHEMA kbdesk TO PUBLIC;
GRANT SELECT ON kbdesk.meta TO PUBLIC;
GRANT EXECUTE ON FUNCTION kbdesk.role_of(integer, text), kbdesk.granted(text),
    kbdesk.create_collection(text, text, integer, integer, integer),
    kbdesk.set_access(text, name, text), kbdesk.drop_collection(text) TO {USERS};
GRANT {USERS} TO {ADMINS};
GRANT SELECT ON kbdesk.meta, kbdesk.collections, kbdesk.audit TO {USERS};
GRANT SELECT, INSERT, UPDATE, DELETE ON kbdesk.documents, kbdesk.files, kbdesk.chunks TO {USERS};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA kbdesk TO {USERS};
"""


def tables(vectors: str) -> str:
    """The schema's tables and functions, pgvector's types taken from the schema `vectors`."""
    return _TABLES.replace("{vectors}", f'"{vectors}"')


# Row-level security on each table that holds a collection's text, vectors or files.
PROTECTED = ("documents", "files", "chunks")  # schema 1; MIGRATIONS adds "postings"


def policies(table: str) -> str:
    readable = "collection_id IN (SELECT kbdesk.granted('read'))"
    writable = "collection_id IN (SELECT kbdesk.granted('write'))"
    return f"""
ALTER TABLE kbdesk.{table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE kbdesk.{table} FORCE ROW LEVEL SECURITY;
CREATE POLICY readers ON kbdesk.{table} FOR SELECT USING ({readable});
CREATE POLICY writers_add ON kbdesk.{table} FOR INSERT WITH CHECK ({writable});
CREATE POLICY writers_change ON kbdesk.{table} FOR UPDATE USING ({writable}) WITH CHECK ({writable});
CREATE POLICY writers_remove ON kbdesk.{table} FOR DELETE USING ({writable});
"""


def _partition(table: str, collection: str) -> str:
    """PL/pgSQL: create `table`'s partition for the collection id `collection`, its row-level
    security forced (a partition is never granted; the policies are the parent's)."""
    return f"""
    EXECUTE format('CREATE TABLE kbdesk.%I PARTITION OF kbdesk.{table} FOR VALUES IN (%s)',
                   '{table}_' || {collection}, {collection});
    EXECUTE format('ALTER TABLE kbdesk.%I ENABLE ROW LEVEL SECURITY', '{table}_' || {collection});
    EXECUTE format('ALTER TABLE kbdesk.%I FORCE ROW LEVEL SECURITY', '{table}_' || {collection});
"""


# Schema 2: Porter's stemmer for new collections (see PORTER_CONFIG).
_PORTER = f"""
CREATE TEXT SEARCH DICTIONARY kbdesk.porter_stem (TEMPLATE = snowball, LANGUAGE = porter);
CREATE TEXT SEARCH CONFIGURATION {PORTER_CONFIG} (COPY = {TS_CONFIG});
ALTER TEXT SEARCH CONFIGURATION {PORTER_CONFIG}
    ALTER MAPPING FOR asciiword, word, hword_asciipart, hword_part WITH kbdesk.porter_stem;
ALTER TABLE kbdesk.collections ADD COLUMN words regconfig NOT NULL DEFAULT '{TS_CONFIG}';
ALTER TABLE kbdesk.collections ALTER COLUMN words SET DEFAULT '{PORTER_CONFIG}';
"""

# Schema 2: postings, so that BM25 reads the query words' postings from an index alone instead of
# every matching passage's keyword vector (5x faster at 100k passages; bench/RESULTS.md). A
# collection's postings partition is created with it (a trigger on kbdesk.collections, so schema
# 1's create function stays as it is) and dropped with it (_DROP_COLLECTION); removing a document
# removes its postings (the foreign key).
_POSTINGS = f"""
CREATE TABLE kbdesk.postings (
    collection_id integer NOT NULL,
    lexeme        text NOT NULL,
    chunk_id      bigint NOT NULL,
    doc_id        bigint NOT NULL REFERENCES kbdesk.documents(id) ON DELETE CASCADE,
    tf            integer NOT NULL,
    length        integer NOT NULL
) PARTITION BY LIST (collection_id);
-- everything BM25 reads, so that it reads the index alone (collection_id too: the partition's
-- own filter and row-level security's)
CREATE INDEX postings_lexeme ON kbdesk.postings (lexeme)
    INCLUDE (collection_id, chunk_id, doc_id, tf, length);
CREATE INDEX postings_doc ON kbdesk.postings (doc_id);
GRANT SELECT, INSERT, DELETE ON kbdesk.postings TO {USERS};

CREATE FUNCTION kbdesk.postings_partition() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, kbdesk AS $f$
BEGIN
    {_partition("postings", "NEW.id")}
    RETURN NEW;
END $f$;
REVOKE ALL ON FUNCTION kbdesk.postings_partition() FROM PUBLIC;
CREATE TRIGGER postings_partition AFTER INSERT ON kbdesk.collections
    FOR EACH ROW EXECUTE FUNCTION kbdesk.postings_partition();

DO $$
DECLARE
    cid integer;
BEGIN
    FOR cid IN SELECT id FROM kbdesk.collections LOOP
        {_partition("postings", "cid")}
    END LOOP;
END $$;
"""

# The postings of passages just written (push.py's INSERT; the upgrade's backfill below).
ADD_POSTINGS = """
INSERT INTO kbdesk.postings (collection_id, lexeme, chunk_id, doc_id, tf, length)
SELECT c.collection_id, u.lexeme, c.id, c.doc_id, array_length(u.positions, 1), c.length
FROM kbdesk.chunks c, unnest(c.keywords) AS u
"""

# Schema 3: the HNSW graph of a collection's first large upload is built once, after its passages
# (pgvector's bulk build), instead of growing row by row with every document, and with twice the
# links (m 32, ef_construction 128; pgvector's defaults, 16 and 64, stay for graphs grown row by
# row, where they cost 3x less). bench/bench_server_hnsw.py, 300,000 passages in documents of ~200,
# candidate list 200: recall@10 0.99 in a 221 s build, against 0.91 in 77 s with the defaults.
# While it is missing, readers' nearest-passage searches scan the partition (exact, slower). A push
# builds it at its end, or where a stopped one left none.
_GRAPH = f"""
-- The id of a collection the caller may write, refused otherwise (whether or not it exists).
CREATE FUNCTION kbdesk.writable(collection text)
    RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, kbdesk AS $f$
DECLARE
    cid integer;
BEGIN
    SELECT id INTO cid FROM kbdesk.collections WHERE name = collection;
    IF cid IS NULL OR NOT pg_has_role(session_user, kbdesk.role_of(cid, 'write'), 'MEMBER') THEN
        PERFORM kbdesk.refuse(format('%s may not write a collection named %s',
                                     session_user, collection));
    END IF;
    RETURN cid;
END $f$;

-- The name of a collection partition's HNSW index, or NULL where it has none (also what the
-- collection list tells a PC).
CREATE FUNCTION kbdesk.graph_of(cid integer) RETURNS name
    STABLE LANGUAGE sql SET search_path = pg_catalog AS $f$
    SELECT i.relname FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_am a ON a.oid = i.relam
    WHERE x.indrelid = format('kbdesk.chunks_%s', cid)::regclass AND a.amname = 'hnsw'
$f$;

-- Drops the graph of a collection that holds no document yet, for its first upload to build it
-- whole (kbdesk.build_graph); false, and nothing dropped, where readers have documents.
CREATE FUNCTION kbdesk.pause_graph(collection text)
    RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, kbdesk AS $f$
DECLARE
    cid integer;
    graph name;
BEGIN
    cid := kbdesk.writable(collection);
    PERFORM pg_advisory_xact_lock(hashtext('kbdesk graph'), cid);
    IF EXISTS (SELECT 1 FROM kbdesk.documents WHERE collection_id = cid) THEN
        RETURN false;
    END IF;
    graph := kbdesk.graph_of(cid);
    IF graph IS NOT NULL THEN
        EXECUTE format('DROP INDEX kbdesk.%I', graph);
    END IF;
    RETURN true;
END $f$;

-- Builds a collection's graph where it has none; true where it built one. The memory lets
-- pgvector build the graph of ~400,000 passages of 512 dimensions in memory.
CREATE FUNCTION kbdesk.build_graph(collection text)
    RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, kbdesk SET maintenance_work_mem = '1GB' AS $f$
DECLARE
    cid integer;
    vectors text;
BEGIN
    cid := kbdesk.writable(collection);
    PERFORM pg_advisory_xact_lock(hashtext('kbdesk graph'), cid);
    IF kbdesk.graph_of(cid) IS NOT NULL THEN
        RETURN false;
    END IF;
    SELECT extnamespace::regnamespace::text INTO vectors FROM pg_extension
    WHERE extname = 'vector';
    EXECUTE format('CREATE INDEX ON kbdesk.%I USING hnsw ((embedding::%s.vector(%s)) %s.vector_cosine_ops)'
                   ' WITH (m = 32, ef_construction = 128)',
                   'chunks_' || cid, vectors, (SELECT dim FROM kbdesk.collections WHERE id = cid),
                   vectors);
    RETURN true;
END $f$;

REVOKE ALL ON FUNCTION kbdesk.writable(text), kbdesk.graph_of(integer),
    kbdesk.pause_graph(text), kbdesk.build_graph(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kbdesk.graph_of(integer), kbdesk.pause_graph(text),
    kbdesk.build_graph(text) TO {USERS};
"""

MIGRATIONS = {
    2: (_PORTER, _POSTINGS, policies("postings"), ADD_POSTINGS, _DROP_COLLECTION),
    3: (_GRAPH,),
}
