"""Pins of one target interpreter, for scripts/build-wheelhouse.sh.

pip download evaluates environment markers against the interpreter running pip, not the
target given with --python-version, so the script filters the pins first:

    python scripts/wheelhouse_pins.py 3.11.2 < pins.txt > pins-cp311.txt

The app hosts also need the server the role runs — uvicorn with uvloop and httptools — which
an app of their own need not depend on. The bundle's lock pins it; this prints those pins
(uvicorn, uvloop, httptools and everything they need, as uv.lock records it) that PINS does
not already name, so the app's own choice of any of them wins:

    python scripts/wheelhouse_pins.py 3.11.2 --server uv.lock pins.txt > server-cp311.txt

The target is CPython on Linux x86_64 (the app hosts), at the given full version.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

# What the role's unit runs: uvicorn --loop uvloop --http httptools.
SERVER = ("uvicorn", "uvloop", "httptools")


def target_environment(full_version: str) -> dict[str, str]:
    major, minor = full_version.split(".")[:2]
    return {
        "implementation_name": "cpython",
        "implementation_version": full_version,
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "python_full_version": full_version,
        "python_version": f"{major}.{minor}",
        "sys_platform": "linux",
    }


def requirements(lines: Iterable[str]) -> list[Requirement]:
    """The requirements of a requirements file's LINES; options (-e, --hash, ...) and comments
    are left out."""
    found = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            found.append(Requirement(text))
        except InvalidRequirement as error:
            raise SystemExit(f"wheelhouse_pins.py: not a requirement: {text!r} ({error})") from None
    return found


def for_target(pins: Iterable[Requirement], environment: dict[str, str]) -> list[str]:
    """PINS whose marker holds on the target, without their markers."""
    kept = []
    for requirement in pins:
        if requirement.marker is None or requirement.marker.evaluate(environment):
            requirement.marker = None
            kept.append(str(requirement))
    return kept


def server_pins(lock: Path, environment: dict[str, str], present: set[str]) -> list[str]:
    """name==version of every package the server needs on the target, as LOCK pins them,
    except those named in PRESENT (the app's own pins) and what only they would need."""
    packages = {
        canonicalize_name(package["name"]): package
        for package in tomllib.loads(lock.read_text())["package"]
    }
    wanted: list[str] = []
    todo = [canonicalize_name(name) for name in SERVER]
    while todo:
        name = todo.pop(0)
        if name in present or name in wanted:
            continue
        wanted.append(name)
        for dependency in packages[name].get("dependencies", []):
            marker = dependency.get("marker")
            if marker is None or Marker(marker).evaluate(environment):
                todo.append(canonicalize_name(dependency["name"]))
    return [f"{name}=={packages[name]['version']}" for name in wanted]


def main(argv: list[str]) -> int:
    usage = "usage: wheelhouse_pins.py MAJOR.MINOR.PATCH [--server UV_LOCK PINS] < pins.txt\n"
    if len(argv) not in (2, 5) or argv[1].count(".") != 2:
        sys.stderr.write(usage)
        return 2
    environment = target_environment(argv[1])
    if len(argv) == 2:
        for line in for_target(requirements(sys.stdin), environment):
            sys.stdout.write(f"{line}\n")
        return 0
    if argv[2] != "--server":
        sys.stderr.write(usage)
        return 2
    own = requirements(Path(argv[4]).read_text().splitlines())
    present = {canonicalize_name(requirement.name) for requirement in own}
    for line in server_pins(Path(argv[3]), environment, present):
        sys.stdout.write(f"{line}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
