"""follow-ups keep their outcome: when they finished and what they found

The digest reads "reset did not help" from these columns (an outcome enum stored with the
follow-up), no longer from the wording of audit rows.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("followups") as batch:
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("detail", sa.Text(), nullable=True))
        batch.create_index("ix_followups_finished", ["finished_at"])


def downgrade() -> None:
    with op.batch_alter_table("followups") as batch:
        batch.drop_index("ix_followups_finished")
        batch.drop_column("detail")
        batch.drop_column("finished_at")
