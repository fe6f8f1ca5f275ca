"""What a run left running is (its process, container or Slurm job), and which run a
run repeats, so that a restarted service follows runs of its predecessor.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datalab_report_runs") as table:
        table.add_column(sa.Column("handle_json", sa.Text(), nullable=True))
        table.add_column(sa.Column("retry_of", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datalab_report_runs") as table:
        table.drop_column("retry_of")
        table.drop_column("handle_json")
