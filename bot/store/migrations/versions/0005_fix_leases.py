"""leases: the replica running a fix, and checks whose verdict is not posted yet

A replica renews a fix's lease while the fix runs; due work marks a fix whose lease lapsed
(its replica died) interrupted within a minute, and never touches a live replica's fix.
``check_posts`` lists the "checking…" messages still waiting for their verdict, so a
crash leaves none hanging: they are told "interrupted".

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "check_posts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
    )
    op.create_index("ix_check_posts_state", "check_posts", ["state", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_check_posts_state", table_name="check_posts")
    op.drop_table("check_posts")
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
