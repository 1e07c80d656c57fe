"""One host in every group: deploy.yml drains one instance at a time around its restart, so
the host never stops answering — not a GET, not a POST is lost while the release changes."""

import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(PROJECT / "tests" / "resilience"))
sys.path.insert(0, str(PROJECT / "molecule" / "resources"))

from inventory import inventory_groups  # noqa: E402
from loadgen import Outcome  # noqa: E402
from rolling import deploy_and_roll_back  # noqa: E402
from stack import Stack, inventory_file  # noqa: E402

FIGURES = PROJECT / "reports" / "resilience-single-host.json"


def test_rolling_deploy_on_one_host_drops_no_request(tmp_path: Path) -> None:
    inventory = inventory_file()
    stack = Stack(inventory, inventory_groups(inventory), figures_file=FIGURES)
    item_ids = stack.seed_items(5)
    ledger: list[Outcome] = []
    deploy_and_roll_back(stack, item_ids, ledger, tmp_path, "single")
