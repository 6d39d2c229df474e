"""flow registry and item kinds

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:27:38.775422
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_definitions",
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("type", "version"),
    )
    # Server defaults give the rows already there a kind: every item so far is physical,
    # every location a warehouse.
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="physical", nullable=False)
        )
        batch_op.add_column(sa.Column("release_date", sa.Date(), nullable=True))

    with op.batch_alter_table("warehouses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="warehouse", nullable=False)
        )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): batch mode would copy and drop these tables, which
    # stock_levels references, and SQLite refuses that with foreign keys on.
    op.drop_column("warehouses", "kind")
    op.drop_column("catalog_items", "release_date")
    op.drop_column("catalog_items", "kind")
    op.drop_table("flow_definitions")
