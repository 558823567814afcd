import { createHash } from 'node:crypto';
import { PowernodeError } from '@powernode/contracts';

/** Names the PostgreSQL adapter derives from its schema: quoted identifiers, NOTIFY channel, advisory lock keys. */
export interface PostgresLayout {
  schema: string;
  /** `"schema".` prefix for table names. */
  q: string;
  channel: string;
  /** Two-int advisory lock keys: one serialising appends, one serialising table creation. */
  appendLock: readonly [number, number];
  migrateLock: readonly [number, number];
}

// Class ids of our advisory locks ('pnap', 'pnmg' as int4): other software using advisory locks on the same
// database will not collide with them by accident.
const APPEND_LOCK_CLASS = 0x706e6170;
const MIGRATE_LOCK_CLASS = 0x706e6d67;

/** Validates the schema name (lower-case identifier, so it needs no quoting rules) and derives the layout. */
export function postgresLayout(schema: string): PostgresLayout {
  if (!/^[a-z_][a-z0-9_]{0,39}$/.test(schema)) {
    throw new PowernodeError(
      'config_invalid',
      `PostgreSQL event store schema ${JSON.stringify(schema)} is not valid: use 1-40 characters of a-z, 0-9 and _, not starting with a digit`,
      {
        details: { field: 'schema' },
      },
    );
  }
  const key = createHash('sha256').update(schema).digest().readInt32BE(0);
  return { schema, q: `"${schema}".`, channel: `${schema}_events`, appendLock: [APPEND_LOCK_CLASS, key], migrateLock: [MIGRATE_LOCK_CLASS, key] };
}

/** DDL creating the adapter's tables when missing; safe to run on every start. */
export function postgresSchemaDdl(l: PostgresLayout): string {
  // `data` is json, not jsonb: it keeps the document byte for byte (key order, \u0000 escapes jsonb refuses).
  // `occurred_at` is text so the writer's timestamp reads back exactly as written.
  return `
CREATE SCHEMA IF NOT EXISTS "${l.schema}";
CREATE TABLE IF NOT EXISTS ${l.q}events (
  position       bigint  PRIMARY KEY,
  id             text    NOT NULL,
  stream         text    NOT NULL,
  version        integer NOT NULL,
  type           text    NOT NULL,
  schema_version integer NOT NULL,
  occurred_at    text    NOT NULL,
  correlation_id text    NOT NULL,
  causation_id   text,
  actor          text    NOT NULL,
  data           json    NOT NULL,
  CONSTRAINT events_id_key UNIQUE (id),
  CONSTRAINT events_stream_version_key UNIQUE (stream, version)
);
CREATE TABLE IF NOT EXISTS ${l.q}checkpoints (
  name       text        PRIMARY KEY,
  position   bigint      NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ${l.q}projection_states (
  name       text        PRIMARY KEY,
  state      json        NOT NULL,
  position   bigint      NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
${appendGroupFunction(l)}
${appendToStreamFunction(l)}`;
}

/**
 * The append path as one server-side function, so a group of appends costs one round trip and one commit.
 * Event data travels in its own json[] argument: extracting text fields with ->> de-escapes the whole
 * document, and PostgreSQL text cannot hold the \u0000 a payload may legitimately carry.
 * It takes the schema's advisory lock, then judges each append of the group on its own (idempotent retry,
 * expected version, ids taken) and inserts it at the next positions; a unique violation from a writer that
 * bypassed the lock fails only that append. Outcomes come back one row per append, in order.
 */
function appendGroupFunction(l: PostgresLayout): string {
  return `
CREATE OR REPLACE FUNCTION ${l.q}append_group(p_group json, p_data json[], p_lock_a integer, p_lock_b integer, p_channel text)
RETURNS TABLE (idx integer, outcome text, stream_version integer, first_position bigint, last_position bigint, taken_id text, taken_stream text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_append   json;
  v_idx      integer := -1;
  v_stream   text;
  v_expected text;
  v_supplied text[];
  v_events   json;
  v_first_data integer;
  v_count    integer;
  v_current  integer;
  v_last     bigint;
  v_head     bigint;
  v_wrote    boolean := false;
  v_constraint text;
  v_detail   text;
BEGIN
  PERFORM pg_advisory_xact_lock(p_lock_a, p_lock_b);
  -- Read after the lock: in READ COMMITTED this statement sees every append committed before ours.
  SELECT coalesce(max(e.position), 0) INTO v_head FROM ${l.q}events e;
  FOR v_append IN SELECT g.value FROM json_array_elements(p_group) AS g LOOP
    v_idx := v_idx + 1;
    v_stream := v_append->>'stream';
    v_expected := v_append->>'expected';
    v_events := v_append->'events';
    v_first_data := (v_append->>'first_data')::integer;
    v_count := json_array_length(v_events);
    SELECT coalesce(array_agg(s.value), '{}') INTO v_supplied FROM json_array_elements_text(v_append->'supplied') AS s;
    v_current := NULL;
    v_last := NULL;
    SELECT e.version, e.position INTO v_current, v_last FROM ${l.q}events e WHERE e.stream = v_stream ORDER BY e.version DESC LIMIT 1;
    v_current := coalesce(v_current, 0);
    v_last := coalesce(v_last, 0);
    IF v_count > 0 AND cardinality(v_supplied) = v_count
       AND (SELECT count(*) FROM ${l.q}events e WHERE e.id = ANY (v_supplied) AND e.stream = v_stream) = v_count THEN
      RETURN QUERY SELECT v_idx, 'noop'::text, v_current, v_last, v_last, NULL::text, NULL::text;
      CONTINUE;
    END IF;
    IF v_expected <> 'any' AND v_current <> (CASE WHEN v_expected = 'no_stream' THEN 0 ELSE v_expected::integer END) THEN
      RETURN QUERY SELECT v_idx, 'conflict'::text, v_current, NULL::bigint, NULL::bigint, NULL::text, NULL::text;
      CONTINUE;
    END IF;
    IF cardinality(v_supplied) > 0 THEN
      RETURN QUERY SELECT v_idx, 'id_taken'::text, v_current, NULL::bigint, NULL::bigint, e.id, e.stream FROM ${l.q}events e WHERE e.id = ANY (v_supplied) LIMIT 1;
      IF FOUND THEN CONTINUE; END IF;
    END IF;
    IF v_count > 0 THEN
      BEGIN
        INSERT INTO ${l.q}events (position, id, stream, version, type, schema_version, occurred_at, correlation_id, causation_id, actor, data)
        SELECT v_head + x.ord, x.ev->>'id', v_stream, v_current + x.ord, x.ev->>'type', (x.ev->>'schema_version')::integer,
               x.ev->>'occurred_at', x.ev->>'correlation_id', x.ev->>'causation_id', x.ev->>'actor', p_data[v_first_data + x.ord - 1]
        FROM json_array_elements(v_events) WITH ORDINALITY AS x(ev, ord);
      EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME, v_detail = PG_EXCEPTION_DETAIL;
        IF v_constraint = 'events_id_key' THEN
          RETURN QUERY SELECT v_idx, 'id_taken'::text, v_current, NULL::bigint, NULL::bigint, substring(v_detail from '\\(id\\)=\\((.*)\\)'), NULL::text;
        ELSE
          RETURN QUERY SELECT v_idx, 'conflict'::text, v_current, NULL::bigint, NULL::bigint, NULL::text, NULL::text;
        END IF;
        CONTINUE;
      END;
      v_head := v_head + v_count;
      v_wrote := true;
    END IF;
    RETURN QUERY SELECT v_idx, 'ok'::text, v_current + v_count, v_head - v_count + 1, v_head, NULL::text, NULL::text;
  END LOOP;
  IF v_wrote THEN
    PERFORM pg_notify(p_channel, v_head::text);
  END IF;
END;
$fn$;`;
}

/**
 * The append path of a lone append: the same rules as `append_group` for one append, without the JSON document
 * to unpack, so the common case costs one prepared call with few statements inside. Events travel as parallel
 * arrays (data as json[], kept byte for byte); `p_expected` NULL means any version, 0 means no stream.
 */
function appendToStreamFunction(l: PostgresLayout): string {
  return `
CREATE OR REPLACE FUNCTION ${l.q}append_to_stream(
  p_stream text, p_expected integer, p_supplied text[],
  p_ids text[], p_types text[], p_schema_versions integer[], p_occurred_at text[],
  p_correlation_ids text[], p_causation_ids text[], p_actors text[], p_data json[],
  p_lock_a integer, p_lock_b integer, p_channel text,
  OUT outcome text, OUT stream_version integer, OUT last_position bigint, OUT taken_id text, OUT taken_stream text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_count      integer := cardinality(p_ids);
  v_head       bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(p_lock_a, p_lock_b);
  -- One statement after the lock: in READ COMMITTED it sees every append committed before ours.
  SELECT h.head, coalesce(s.version, 0), coalesce(s.position, 0) INTO v_head, stream_version, last_position
  FROM (SELECT coalesce(max(e.position), 0) AS head FROM ${l.q}events e) h
  LEFT JOIN LATERAL (SELECT e.version, e.position FROM ${l.q}events e WHERE e.stream = p_stream ORDER BY e.version DESC LIMIT 1) s ON true;
  -- Nested IFs: the outer tests are plain expressions, so an append without ids of its own runs no query here.
  IF cardinality(p_supplied) = v_count AND v_count > 0 THEN
    IF (SELECT count(*) FROM ${l.q}events e WHERE e.id = ANY (p_supplied) AND e.stream = p_stream) = v_count THEN
      outcome := 'noop';
      RETURN;
    END IF;
  END IF;
  last_position := NULL;
  IF p_expected IS NOT NULL AND stream_version <> p_expected THEN
    outcome := 'conflict';
    RETURN;
  END IF;
  IF cardinality(p_supplied) > 0 THEN
    SELECT e.id, e.stream INTO taken_id, taken_stream FROM ${l.q}events e WHERE e.id = ANY (p_supplied) LIMIT 1;
    IF FOUND THEN
      outcome := 'id_taken';
      RETURN;
    END IF;
  END IF;
  IF v_count > 0 THEN
    -- No exception block: one would open a subtransaction on every append. Under the lock the checks above
    -- leave nothing for the insert to violate; a writer that bypassed the lock makes it fail with the unique
    -- violation, which the adapter reads as the same verdicts (id taken, or a concurrent append).
    INSERT INTO ${l.q}events (position, id, stream, version, type, schema_version, occurred_at, correlation_id, causation_id, actor, data)
    SELECT v_head + x.ord, x.id, p_stream, stream_version + x.ord, x.type, x.schema_version, x.occurred_at, x.correlation_id, x.causation_id, x.actor, x.data
    FROM unnest(p_ids, p_types, p_schema_versions, p_occurred_at, p_correlation_ids, p_causation_ids, p_actors, p_data)
         WITH ORDINALITY AS x(id, type, schema_version, occurred_at, correlation_id, causation_id, actor, data, ord);
    PERFORM pg_notify(p_channel, (v_head + v_count)::text);
  END IF;
  outcome := 'ok';
  stream_version := stream_version + v_count;
  last_position := v_head + v_count;
END;
$fn$;`;
}
