"""A second version of the notes app, with an additive migration, rolled out by deploy.yml from a
copy of its project (-e hiload_app_project_dir, built by the preflight like any project), then
rolled back by rollback.yml, each one app host at a time under a steady stream of reads and
token-bearing writes through nginx: no request fails, each version is served after its run, the
schema stays at the new head (a rollback runs no migration), and every note written is stored."""

from pathlib import Path

from conftest import (
    PROJECT,
    add_note,
    head_revision,
    notes_api,
    notes_project,
    psql,
    setting,
)
from inventory import inventory_groups
from loadgen import Outcome
from releases import another_project
from rolling import AppUnderRollout, deploy_and_roll_back
from stack import Stack, inventory_file

FIGURES = PROJECT / "reports" / "resilience-own-app.json"
DATABASE = setting("postgresql_app_database")
# The second version's migration: an index, so the first version still serving during the
# rollout, and after the rollback, works on the schema as it leaves it.
NEW_REVISION = "0003"
MIGRATION = '''"""Index the notes by their creation time: the second version's migration.

Revision ID: {revision}
Revises: {down}
"""

from collections.abc import Sequence

from alembic import op

revision: str = "{revision}"
down_revision: str | Sequence[str] | None = "{down}"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("notes_created_at", "notes", ["created_at"])


def downgrade() -> None:
    op.drop_index("notes_created_at", table_name="notes")
'''


def with_new_migration(copy: Path) -> None:
    down = head_revision(copy)
    script = copy / "migrations" / "versions" / f"{NEW_REVISION}_index_created_at.py"
    script.write_text(MIGRATION.format(revision=NEW_REVISION, down=down))


def notes_release(workdir: Path, suffix: str) -> tuple[dict[str, object], str]:
    """Another version of the notes project: deploy.yml's extra variable for it, its version."""
    copy, version = another_project(PROJECT, notes_project(), workdir, suffix, with_new_migration)
    return {"hiload_app_project_dir": str(copy)}, version


def stored(titles: set[str]) -> set[str]:
    """Those of TITLES (the steady load's: a prefix and hex digits) the app's database holds."""
    listed = ", ".join(f"'{title}'" for title in sorted(titles))
    rows = psql(f"SELECT title FROM notes WHERE title IN ({listed})", DATABASE)
    return set(rows.splitlines())


def test_a_second_version_rolls_out_and_back_without_a_failed_request(tmp_path: Path) -> None:
    inventory = inventory_file()
    stack = Stack(inventory, inventory_groups(inventory), figures_file=FIGURES)
    note_ids = [add_note(f"rolling-seed-{index}")["id"] for index in range(5)]
    ledger: list[Outcome] = []
    app = AppUnderRollout(
        api=notes_api(),
        version_path="/version",
        version_key=("version",),
        another_release=notes_release,
    )
    deploy_and_roll_back(stack, note_ids, ledger, tmp_path, "ownapp", app=app)

    assert psql("SELECT version_num FROM alembic_version", DATABASE) == NEW_REVISION
    index = psql("SELECT indexname FROM pg_indexes WHERE indexname = 'notes_created_at'", DATABASE)
    assert index == "notes_created_at", "the second version's migration did not run"
    written = {o.name for o in ledger if o.status == 201 and o.name}
    assert written, "the steady load wrote no note"
    missing = written - stored(written)
    assert not missing, f"{len(missing)} of {len(written)} notes answered 201 are not stored"
