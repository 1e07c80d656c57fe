"""Shared by every scenario: on converged hosts, a check-mode run fails nothing and changes nothing.

Molecule's own `check` action only proves that check mode does not fail; a role that
would still change something on a converged host must fail here.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from playbooks import assert_clean, check_mode_run


def test_check_mode_changes_nothing() -> None:
    assert_clean(check_mode_run(), changes_allowed=False)
