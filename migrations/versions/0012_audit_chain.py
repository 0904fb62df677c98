"""A tamper-evident audit log: a hash chain assigned by a sealer, retention of 180 days, archives and pruning.

Rows are inserted as before (chain columns NULL), so audited transactions never wait for one another.
``audit.seal(max_rows)`` (SECURITY DEFINER, owned by the migration owner; the app role may only EXECUTE it)
takes an advisory transaction lock and gives the committed unsealed rows, in id order, consecutive
``chain_seq`` numbers, the previous row's hash as ``prev_hash`` and ``row_hash = sha256(prev_hash ||
canonical(row))``. The canonical form is each field's text, UTF-8, framed as ``<byte length>:<bytes>`` or
``-`` for NULL: chain_seq, id, ``at`` as integer microseconds since the epoch, actor_id, actor_username,
actor_org_id, action, object_type, object_id, before::text, after::text, request_id, client_ip::text.
``app/audit/chain.py`` recomputes it in Python, independently, to verify the chain.

The append-only trigger lets exactly the seal through (only the chain columns, only from NULL, only inside
``audit.seal``) and refuses every other UPDATE, as before. A DELETE is refused for any row younger than 180
days and, for older rows, unless it runs inside ``audit.prune(archive_id)`` for a recorded archive
(``audit.archive``) covering the row. Existing rows are sealed here.

Revision ID: 0012_audit_chain
Revises: 0010_layer_coverage
Create Date: 2026-12-09
"""

from alembic import context, op

revision = "0012_audit_chain"
down_revision = "0011_three_administrators"
branch_labels = None
depends_on = None

# The seal's advisory lock key (any constant no other lock of the platform uses): 'audit.seal' as ASCII.
SEAL_LOCK = 0x61756469742E7365


def upgrade() -> None:
    """Add the chain columns, the archive table, the seal and prune functions and the guards; seal."""
    role = context.config.attributes["app_role"]
    op.execute(
        """
        ALTER TABLE audit.event
          ADD COLUMN chain_seq bigint,
          ADD COLUMN prev_hash bytea,
          ADD COLUMN row_hash  bytea,
          ADD CONSTRAINT event_chain_whole CHECK (
            (chain_seq IS NULL AND prev_hash IS NULL AND row_hash IS NULL)
            OR (chain_seq IS NOT NULL AND octet_length(prev_hash) = 32 AND octet_length(row_hash) = 32));
        CREATE UNIQUE INDEX event_chain_seq_key ON audit.event (chain_seq);
        CREATE INDEX event_unsealed_idx ON audit.event (id) WHERE chain_seq IS NULL;

        -- Recorded archives: the exported chain range and the SHA-256 of the file it was written to.
        CREATE TABLE audit.archive (
          id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          created_at       timestamptz NOT NULL DEFAULT now(),
          before_date      date NOT NULL,
          first_seq        bigint NOT NULL,
          last_seq         bigint NOT NULL CHECK (last_seq >= first_seq),
          first_id         bigint NOT NULL,
          last_id          bigint NOT NULL,
          row_count        bigint NOT NULL CHECK (row_count = last_seq - first_seq + 1),
          first_prev_hash  bytea NOT NULL,
          last_hash        bytea NOT NULL,
          file_sha256      bytea NOT NULL UNIQUE,
          file_name        text NOT NULL,
          pruned_at        timestamptz,
          pruned_rows      bigint
        );

        -- One field of the canonical form: '-' for NULL, else '<UTF-8 byte length>:<UTF-8 bytes>'.
        CREATE FUNCTION audit.canonical_field(value text) RETURNS bytea
          LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog AS $$
          SELECT CASE WHEN value IS NULL THEN '\\x2d'::bytea
                 ELSE convert_to(octet_length(convert_to(value, 'UTF8'))::text || ':', 'UTF8')
                      || convert_to(value, 'UTF8') END
        $$;

        CREATE FUNCTION audit.canonical(e audit.event) RETURNS bytea
          LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
          SELECT audit.canonical_field(e.chain_seq::text) || audit.canonical_field(e.id::text)
              || audit.canonical_field((extract(epoch FROM e.at) * 1000000)::bigint::text)
              || audit.canonical_field(e.actor_id::text) || audit.canonical_field(e.actor_username)
              || audit.canonical_field(e.actor_org_id::text) || audit.canonical_field(e.action)
              || audit.canonical_field(e.object_type) || audit.canonical_field(e.object_id)
              || audit.canonical_field(e.before::text) || audit.canonical_field(e.after::text)
              || audit.canonical_field(e.request_id) || audit.canonical_field(e.client_ip::text)
        $$;
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION audit.seal(max_rows integer) RETURNS integer
          LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        DECLARE
          head_seq  bigint;
          head_hash bytea;
          r         audit.event;
          sealed    integer := 0;
        BEGIN
          IF max_rows IS NULL OR max_rows < 1 THEN
            RAISE EXCEPTION 'audit.seal: max_rows must be positive' USING ERRCODE = 'invalid_parameter_value';
          END IF;
          -- Each statement must see the chain head the previous sealer committed: no older snapshot.
          IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'audit.seal runs only in READ COMMITTED transactions'
              USING ERRCODE = 'invalid_transaction_state';
          END IF;
          PERFORM pg_advisory_xact_lock({SEAL_LOCK});
          SELECT chain_seq, row_hash INTO head_seq, head_hash
            FROM audit.event WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1;
          IF head_seq IS NULL THEN  -- nothing sealed left: after the last pruned archive, or the genesis
            SELECT last_seq, last_hash INTO head_seq, head_hash
              FROM audit.archive WHERE pruned_at IS NOT NULL ORDER BY last_seq DESC LIMIT 1;
            head_seq := coalesce(head_seq, 0);
            head_hash := coalesce(head_hash, decode(repeat('00', 32), 'hex'));
          END IF;
          PERFORM set_config('duogui.audit_seal', 'on', true);
          FOR r IN SELECT * FROM audit.event WHERE chain_seq IS NULL ORDER BY id LIMIT max_rows LOOP
            head_seq := head_seq + 1;
            r.chain_seq := head_seq;
            r.prev_hash := head_hash;
            head_hash := sha256(head_hash || audit.canonical(r));
            UPDATE audit.event SET chain_seq = head_seq, prev_hash = r.prev_hash, row_hash = head_hash
              WHERE id = r.id;
            sealed := sealed + 1;
          END LOOP;
          PERFORM set_config('duogui.audit_seal', 'off', true);
          RETURN sealed;
        END $$;

        CREATE FUNCTION audit.prune(archive_id bigint) RETURNS bigint
          LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        DECLARE
          a       audit.archive;
          removed bigint;
        BEGIN
          SELECT * INTO a FROM audit.archive WHERE id = archive_id FOR UPDATE;
          IF NOT FOUND THEN
            RAISE EXCEPTION 'audit.prune: no archive %', archive_id USING ERRCODE = 'no_data_found';
          END IF;
          PERFORM set_config('duogui.audit_prune', 'on', true);
          DELETE FROM audit.event WHERE chain_seq BETWEEN a.first_seq AND a.last_seq;
          GET DIAGNOSTICS removed = ROW_COUNT;
          PERFORM set_config('duogui.audit_prune', 'off', true);
          UPDATE audit.archive SET pruned_at = coalesce(pruned_at, now()),
                 pruned_rows = coalesce(pruned_rows, 0) + removed
            WHERE id = archive_id;
          RETURN removed;
        END $$;

        CREATE FUNCTION audit.guard_event() RETURNS trigger
          LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
          IF TG_OP = 'UPDATE' THEN
            IF current_setting('duogui.audit_seal', true) = 'on'
               AND OLD.chain_seq IS NULL AND NEW.chain_seq IS NOT NULL
               AND ROW(NEW.id, NEW.at, NEW.actor_id, NEW.actor_username, NEW.actor_org_id, NEW.action,
                       NEW.object_type, NEW.object_id, NEW.before, NEW.after, NEW.request_id, NEW.client_ip)
                   IS NOT DISTINCT FROM
                   ROW(OLD.id, OLD.at, OLD.actor_id, OLD.actor_username, OLD.actor_org_id, OLD.action,
                       OLD.object_type, OLD.object_id, OLD.before, OLD.after, OLD.request_id, OLD.client_ip)
            THEN
              RETURN NEW;
            END IF;
            RAISE EXCEPTION 'audit.event is append-only (UPDATE refused)'
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          IF OLD.at > now() - interval '180 days' THEN
            RAISE EXCEPTION 'audit.event is append-only (DELETE refused: event % is younger than 180 days)',
              OLD.id USING ERRCODE = 'insufficient_privilege';
          END IF;
          IF current_setting('duogui.audit_prune', true) IS DISTINCT FROM 'on'
             OR NOT EXISTS (SELECT 1 FROM audit.archive a
                            WHERE OLD.chain_seq BETWEEN a.first_seq AND a.last_seq) THEN
            RAISE EXCEPTION 'audit.event is append-only (DELETE refused: event % is not in a pruned archive)',
              OLD.id USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN OLD;
        END $$;

        -- Rows arrive unsealed: a writer cannot forge its place in the chain.
        CREATE FUNCTION audit.refuse_sealed_insert() RETURNS trigger
          LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
          IF NEW.chain_seq IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.row_hash IS NOT NULL THEN
            RAISE EXCEPTION 'audit.event rows are sealed by audit.seal only'
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NEW;
        END $$;

        DROP TRIGGER event_append_only ON audit.event;
        CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON audit.event
          FOR EACH ROW EXECUTE FUNCTION audit.guard_event();
        CREATE TRIGGER event_unsealed_insert BEFORE INSERT ON audit.event
          FOR EACH ROW EXECUTE FUNCTION audit.refuse_sealed_insert();

        REVOKE ALL ON FUNCTION audit.seal(integer), audit.prune(bigint) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION audit.seal(integer) TO "{role}";
        REVOKE ALL ON audit.archive FROM "{role}";
        GRANT SELECT ON audit.archive TO "{role}";

        SELECT audit.seal(2147483647);
        """
    )


def downgrade() -> None:
    """Back to the plain append-only log (the chain columns and archives are dropped)."""
    op.execute(
        """
        DROP TRIGGER event_unsealed_insert ON audit.event;
        DROP TRIGGER event_append_only ON audit.event;
        CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON audit.event
          FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
        DROP FUNCTION audit.refuse_sealed_insert(), audit.guard_event(), audit.prune(bigint),
          audit.seal(integer), audit.canonical(audit.event), audit.canonical_field(text);
        DROP TABLE audit.archive;
        ALTER TABLE audit.event DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN row_hash;
        """
    )
