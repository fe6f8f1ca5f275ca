"""Alembic environment of the reports service's tables: run on the connection the
service passes (``config.attributes["connection"]``), with a version table of its own
(the hub's database may hold JupyterHub's ``alembic_version``)."""

from alembic import context

from hub.services.reports.db import VERSION_TABLE, Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE,
                  render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
