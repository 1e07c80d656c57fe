"""Keep the lock's pins that apply to one target interpreter, markers evaluated for it.

pip download evaluates environment markers against the interpreter running pip, not the
target given with --python-version, so scripts/build-wheelhouse.sh filters the pins first:

    python scripts/wheelhouse_pins.py 3.11.2 < pins.txt > pins-cp311.txt

The target is CPython on Linux x86_64 (the app hosts), at the given full version.
"""

from __future__ import annotations

import sys

from packaging.requirements import Requirement


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


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1].count(".") != 2:
        sys.stderr.write("usage: wheelhouse_pins.py MAJOR.MINOR.PATCH < pins.txt\n")
        return 2
    environment = target_environment(argv[1])
    for line in sys.stdin:
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            requirement.marker = None
            sys.stdout.write(f"{requirement}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
