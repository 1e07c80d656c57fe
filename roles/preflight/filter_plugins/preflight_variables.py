"""Which of a host's variables look like a role's variable but are no role's variable.

Every public variable of a hiload role is an option of that role's meta/argument_specs.yml and
carries the role's name as its prefix (nginx_, hiload_app_, ...). A variable with a role's prefix
that no spec names is almost always a typo: Ansible would ignore it without a word, and the
tuning the sysadmin meant would silently not happen.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml


def _role_options(roles_dir: str) -> dict[str, set[str]]:
    """{role name: every option of every entry point of its argument spec}."""
    options: dict[str, set[str]] = {}
    for spec in sorted(Path(roles_dir).glob("*/meta/argument_specs.yml")):
        entry_points = yaml.safe_load(spec.read_text())["argument_specs"].values()
        role = spec.parents[1].name
        options[role] = {name for entry in entry_points for name in entry.get("options") or {}}
    return options


def preflight_unknown_variables(
    names: list[str], roles_dir: str, published: list[str]
) -> list[dict[str, Any]]:
    """[{name, suggestion}] for each of NAMES that starts with a role's prefix (the name of a
    role under ROLES_DIR, then _) but is no option of any role's spec nor one of the facts
    roles PUBLISHED; suggestion is the closest known name, or None when nothing is close."""
    options = _role_options(roles_dir)
    known = sorted(set().union(*options.values(), published))
    prefixes = tuple(f"{role}_" for role in options)
    found = []
    for name in sorted(set(names) - set(known)):
        if name.startswith(prefixes):
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            found.append({"name": name, "suggestion": close[0] if close else None})
    return found


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"preflight_unknown_variables": preflight_unknown_variables}
