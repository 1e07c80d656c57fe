"""Let a note be pinned: pinned notes list first.

The second release's migration: it changes a table that already holds rows, which keep their
place as unpinned notes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notes", sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false())
    )
    # The listing's order: pinned first, then newest.
    op.create_index("notes_pinned_id", "notes", [sa.text("pinned DESC"), sa.text("id DESC")])


def downgrade() -> None:
    op.drop_index("notes_pinned_id", table_name="notes")
    op.drop_column("notes", "pinned")
