"""Service accounts (机器客户端) and their daily usage.

``auth.service_account`` holds machine clients an administrator creates: a name (the HTTP Basic username),
the owning organisation, the scope (named layers, or every public layer, and the actions), a required
expiry, and the SHA-256 of the API key (the Basic password; the key itself is shown once and never stored).
Revoking sets ``revoked_at``; the next request with the key fails.

``auth.service_account_usage`` counts per client and day: ``layer_code = ''`` holds the day's total
requests and response bytes, other rows the requests (and bytes of those responses) that read the layer.

Revision ID: 0014_service_accounts
Revises: 0010_layer_coverage
Create Date: 2027-01-12
"""

from alembic import op

revision = "0014_service_accounts"
down_revision = "0013_personal_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the two tables (the app role gets its grants from the schema's default privileges)."""
    op.execute(
        """
        CREATE TABLE auth.service_account (
          id           bigserial PRIMARY KEY,
          name         text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
          description  text NOT NULL DEFAULT '',
          org_id       bigint NOT NULL REFERENCES auth.organisation (id),
          layers       text[],
          all_public   boolean NOT NULL,
          actions      text[] NOT NULL CHECK (cardinality(actions) > 0),
          key_hash     bytea NOT NULL,
          key_hint     text NOT NULL,
          expires_at   timestamptz NOT NULL,
          created_at   timestamptz NOT NULL DEFAULT now(),
          created_by   bigint REFERENCES auth.user (id),
          revoked_at   timestamptz,
          revoked_by   bigint REFERENCES auth.user (id),
          CHECK (all_public = (layers IS NULL)),
          CHECK (layers IS NULL OR cardinality(layers) > 0)
        );
        CREATE UNIQUE INDEX service_account_name_key ON auth.service_account (name);
        CREATE UNIQUE INDEX service_account_key_hash_key ON auth.service_account (key_hash);

        CREATE TABLE auth.service_account_usage (
          service_account_id bigint NOT NULL REFERENCES auth.service_account (id) ON DELETE CASCADE,
          day                date NOT NULL,
          layer_code         text NOT NULL,
          requests           bigint NOT NULL DEFAULT 0,
          bytes              bigint NOT NULL DEFAULT 0,
          PRIMARY KEY (service_account_id, day, layer_code)
        );
        """
    )


def downgrade() -> None:
    """Drop the tables."""
    op.execute("DROP TABLE IF EXISTS auth.service_account_usage, auth.service_account")
