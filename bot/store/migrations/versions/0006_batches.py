"""batches: one approval for a fix on many hosts, and one row per host step

Each host step is its own row, claimed by compare-and-set (``pending -> started``), so a
host runs at most once across double clicks, replicas and restarts; a step found
``started`` after a crash is never run again.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("fix_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("token", sa.String(64), nullable=True),
        sa.Column("left_out", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("lease_owner", sa.String(96), nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("summary_posted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("followups_posted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_batches_state", "batches", ["state"])
    op.create_table(
        "batch_hosts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("owner", sa.String(96), nullable=True),
        sa.Column("context", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("followup_due_at", TS, nullable=True),
        sa.Column("followup_state", sa.String(16), nullable=True),
        sa.Column("followup_outcome", sa.String(32), nullable=True),
        sa.Column("followup_detail", sa.Text(), nullable=True),
        sa.UniqueConstraint("batch_id", "host", name="uq_batch_hosts_batch_host"),
    )
    op.create_index("ix_batch_hosts_batch", "batch_hosts", ["batch_id", "position"])
    op.create_index("ix_batch_hosts_followup", "batch_hosts", ["followup_state", "followup_due_at"])


def downgrade() -> None:
    op.drop_index("ix_batch_hosts_followup", table_name="batch_hosts")
    op.drop_index("ix_batch_hosts_batch", table_name="batch_hosts")
    op.drop_table("batch_hosts")
    op.drop_index("ix_batches_state", table_name="batches")
    op.drop_table("batches")
