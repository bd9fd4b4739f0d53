"""digests: slot claims, runs, IIS log cursors and accumulated log failures

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "digest_slots",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("digest_id", sa.String(64), nullable=False),
        sa.Column("slot", sa.String(80), nullable=False),
        sa.Column("claimed_at", TS, nullable=False),
        sa.UniqueConstraint("digest_id", "slot", name="uq_digest_slots_digest_slot"),
    )
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("digest_id", sa.String(64), nullable=False),
        sa.Column("slot", sa.String(80), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("stalled", sa.JSON(), nullable=False),
    )
    op.create_index("ix_digest_runs_digest_id", "digest_runs", ["digest_id"])
    op.create_table(
        "log_cursors",
        sa.Column("server", sa.String(255), primary_key=True),
        sa.Column("file", sa.String(255), nullable=True),
        sa.Column("offset", sa.Integer(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "log_failures",
        sa.Column("server", sa.String(255), primary_key=True),
        sa.Column("client_ip", sa.String(64), primary_key=True),
        sa.Column("path", sa.String(255), primary_key=True),
        sa.Column("status", sa.Integer(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("last_success", TS, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("log_failures")
    op.drop_table("log_cursors")
    op.drop_index("ix_digest_runs_digest_id", "digest_runs")
    op.drop_table("digest_runs")
    op.drop_table("digest_slots")
