"""order list and line buckets projections; the view snapshot on journal events

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 14:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snapshot", sa.JSON(), nullable=True))

    op.create_table(
        "order_list",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("order_type", sa.String(length=40), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("financial_status", sa.String(length=30), nullable=False),
        sa.Column("fulfillment_status", sa.String(length=30), nullable=False),
        sa.Column("current_step", sa.String(length=60), nullable=True),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("review_escalated", sa.Boolean(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("captured_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("view", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    with op.batch_alter_table("order_list", schema=None) as batch_op:
        batch_op.create_index("ix_order_list_placed", ["placed_at", "order_id"], unique=False)
        batch_op.create_index(
            "ix_order_list_customer_placed", ["customer_id", "placed_at", "order_id"], unique=False
        )
        batch_op.create_index(
            "ix_order_list_status_placed", ["status", "placed_at", "order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_order_list_order_type"), ["order_type"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_order_list_needs_review"), ["needs_review"], unique=False
        )

    op.create_table(
        "order_line_buckets",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=40), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("shipped", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "line_id"),
    )
    with op.batch_alter_table("order_line_buckets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_line_buckets_sku"), ["sku"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_line_buckets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_line_buckets_sku"))
    op.drop_table("order_line_buckets")
    with op.batch_alter_table("order_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_list_needs_review"))
        batch_op.drop_index(batch_op.f("ix_order_list_order_type"))
        batch_op.drop_index("ix_order_list_status_placed")
        batch_op.drop_index("ix_order_list_customer_placed")
        batch_op.drop_index("ix_order_list_placed")
    op.drop_table("order_list")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_column("snapshot")
