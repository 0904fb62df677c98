"""Alembic environment: runs the raw-SQL migrations over a psycopg 3 connection.

The migrations write the storage SRID (4547) literally: they are history, never re-read from the district
block (layers/catalog/district.yaml), whose SRID must be the one the database's geometry columns carry.
"""

import psycopg
from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
dsn = config.attributes["dsn"]

engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
