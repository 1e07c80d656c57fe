"""The preflight's check for variables no role knows (roles/preflight/filter_plugins), against
the real roles: a typo is caught with the name meant, and every variable the shipped
inventories and scenarios set is one a role's argument spec names, so none is refused."""

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
sys.path.insert(0, str(ROLES / "preflight" / "filter_plugins"))

from preflight_variables import preflight_unknown_variables  # noqa: E402

PUBLISHED = ["hiload_app_endpoints", "hiload_app_db_connections", "hiload_app_interface"]


def unknown(*names: str) -> list[dict[str, object]]:
    return preflight_unknown_variables(list(names), str(ROLES), PUBLISHED)


def test_a_misspelled_variable_is_named_with_the_one_meant() -> None:
    assert unknown("nginx_upstream_keepalve") == [
        {"name": "nginx_upstream_keepalve", "suggestion": "nginx_upstream_keepalive"}
    ]


def test_a_name_close_to_nothing_is_refused_without_a_guess() -> None:
    assert unknown("postgresql_turbo_mode") == [
        {"name": "postgresql_turbo_mode", "suggestion": None}
    ]


def test_known_published_and_unprefixed_names_pass() -> None:
    assert unknown("nginx_upstream_keepalive", "hiload_app_endpoints", "ansible_host") == []


def variables_set_in(path: Path) -> set[str]:
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            names.update(key for key in node if isinstance(key, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(path.read_text()))
    return names


@pytest.mark.parametrize(
    "path",
    sorted([*ROOT.glob("inventories/**/*.yml"), *ROOT.glob("molecule/*/molecule.yml")]),
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_every_variable_the_project_sets_is_known(path: Path) -> None:
    assert unknown(*variables_set_in(path)) == []
