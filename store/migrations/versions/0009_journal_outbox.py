"""journal outbox: one record per journal event still to publish, and the relay's lease

Events already in the journal get their record too, in each order's seq order.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-14 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journal_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "relay_lease",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute(
        "INSERT INTO journal_outbox (order_id, seq, created_at) "
        "SELECT order_id, seq, CURRENT_TIMESTAMP FROM order_events ORDER BY order_id, seq"
    )


def downgrade() -> None:
    op.drop_table("relay_lease")
    op.drop_table("journal_outbox")
