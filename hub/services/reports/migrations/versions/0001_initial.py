"""The tables as the reports service first made them (``create_all``): schedules and runs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datalab_report_schedules",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_datalab_report_schedules_owner", "datalab_report_schedules", ["owner"])
    op.create_table(
        "datalab_report_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("schedule_id", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("queued", sa.DateTime(), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=True),
        sa.Column("ended", sa.DateTime(), nullable=True),
        sa.Column("parameters_json", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("files_json", sa.Text(), nullable=False),
    )
    op.create_index("ix_datalab_report_runs_schedule_id", "datalab_report_runs", ["schedule_id"])
    op.create_index("ix_datalab_report_runs_status", "datalab_report_runs", ["status"])


def downgrade() -> None:
    op.drop_table("datalab_report_runs")
    op.drop_table("datalab_report_schedules")
