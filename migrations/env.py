"""Alembic environment: runs the raw-SQL migrations over a psycopg 3 connection."""

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
