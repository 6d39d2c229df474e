"""flow kinds: order types and fragments

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every flow registered so far is an order type.
    with op.batch_alter_table("flow_definitions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="order", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("flow_definitions", schema=None) as batch_op:
        batch_op.drop_column("kind")
