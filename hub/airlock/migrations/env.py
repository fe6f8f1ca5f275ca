"""Alembic environment of the airlock's table: run on the connection the store passes
(``config.attributes["connection"]``), with a version table of its own."""

from alembic import context

from hub.airlock.store import VERSION_TABLE, Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE,
                  render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
