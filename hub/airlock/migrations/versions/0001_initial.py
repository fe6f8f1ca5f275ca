"""The export requests.

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
        "airlock_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("requester", sa.String(255), nullable=False),
        sa.Column("space_kind", sa.String(16), nullable=False),
        sa.Column("space_id", sa.String(32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("decided", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("exported", sa.String(300), nullable=True),
    )
    op.create_index("ix_airlock_requests_requester", "airlock_requests", ["requester"])
    op.create_index("ix_airlock_requests_space_id", "airlock_requests", ["space_id"])
    op.create_index("ix_airlock_requests_status", "airlock_requests", ["status"])


def downgrade() -> None:
    op.drop_table("airlock_requests")
