"""restocks, return labels and reward entries

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 12:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "restocks",
        sa.Column("restock_id", sa.String(length=200), nullable=False),
        sa.Column("warehouse", sa.String(length=32), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("restock_id"),
    )
    op.create_table(
        "carrier_return_labels",
        sa.Column("return_id", sa.String(length=80), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("warehouse", sa.String(length=32), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("label_url", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("return_id"),
    )
    with op.batch_alter_table("carrier_return_labels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_carrier_return_labels_order_id"), ["order_id"], unique=False
        )

    op.create_table(
        "reward_entries",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("reward_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reward_entries_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reward_entries_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reward_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reward_entries_order_id"))
        batch_op.drop_index(batch_op.f("ix_reward_entries_customer_id"))

    op.drop_table("reward_entries")
    with op.batch_alter_table("carrier_return_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_carrier_return_labels_order_id"))

    op.drop_table("carrier_return_labels")
    op.drop_table("restocks")
