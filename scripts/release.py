"""The project's one version, its changelog, and the artifacts of a release.

galaxy.yml holds the version: the collection's, the service wheel's (pyproject.toml reads it
through hatchling) and the README's, whose every `hiload-stack-<version>.tar.gz` and
`hiload-<version>-py3-none-any.whl` must name it. Changes are changelog fragments
(changelogs/fragments/, antsibull-changelog); `antsibull-changelog release` folds them into
changelogs/changelog.yaml and CHANGELOG.md under galaxy.yml's version.

Usage:
  release.py check   the fragments and the changelog are well formed, the README names
                     galaxy.yml's version, and no release in the changelog is newer (make lint)
  release.py build   check, then refuse unless the changelog has galaxy.yml's version as a
                     release and no fragment waits for one; build the collection tarball and the
                     service wheel into dist/, and verify both carry the version (make release)
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
CHANGELOG = ROOT / "changelogs" / "changelog.yaml"
FRAGMENTS = ROOT / "changelogs" / "fragments"
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
# The README's mentions of a version: the two artifacts `make release` builds.
README_VERSIONS = re.compile(r"hiload-stack-([0-9][^/\s`]*?)\.tar\.gz|hiload-([0-9][^-\s`]*)-py3")


class RefusedError(Exception):
    """What is wrong, and how to put it right."""


def galaxy() -> dict[str, str]:
    data: dict[str, str] = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    return data


def semver(version: str, where: str) -> tuple[int, int, int]:
    match = SEMVER.match(version)
    if not match:
        raise RefusedError(f"{where}: version {version!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def releases() -> dict[str, object]:
    data = yaml.safe_load(CHANGELOG.read_text()) or {}
    found: dict[str, object] = data.get("releases") or {}
    return found


def run(*command: str) -> None:
    """Run COMMAND in the project; its failure is a refusal that shows its output."""
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise RefusedError(f"`{' '.join(command)}` failed:\n{output}")


def check() -> str:
    """galaxy.yml's version, once everything that names it agrees."""
    version = galaxy()["version"]
    current = semver(version, "galaxy.yml")
    run("antsibull-changelog", "lint")
    run("antsibull-changelog", "lint-changelog-yaml", str(CHANGELOG.relative_to(ROOT)))
    newer = [name for name in releases() if semver(name, str(CHANGELOG)) > current]
    if newer:
        raise RefusedError(
            f"changelogs/changelog.yaml has release {newer[0]}, newer than galaxy.yml's "
            f"version {version}: raise galaxy.yml's version"
        )
    readme = (ROOT / "README.md").read_text()
    named = {tarball or wheel for tarball, wheel in README_VERSIONS.findall(readme)}
    if not named:
        raise RefusedError(f"README.md names no release artifact (hiload-stack-{version}.tar.gz)")
    if named != {version}:
        others = ", ".join(sorted(named - {version}))
        raise RefusedError(
            f"README.md names version {others}; galaxy.yml's is {version}: update it"
        )
    return version


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv") or str(ROOT / ".state/uv/bin/uv")
    if not Path(found).is_file():
        raise RefusedError("uv builds the service wheel and is not installed: run `make venv`")
    return found


def build() -> list[Path]:
    version = check()
    if version not in releases():
        raise RefusedError(
            f"galaxy.yml's version {version} is not a release in changelogs/changelog.yaml: run "
            "`antsibull-changelog release` (it folds changelogs/fragments/ into CHANGELOG.md), "
            "commit, then `make release` again"
        )
    waiting = sorted(path.name for path in FRAGMENTS.glob("*.y*ml"))
    if waiting:
        raise RefusedError(
            f"changelog fragments not in any release: {', '.join(waiting)}. Raise galaxy.yml's "
            "version and run `antsibull-changelog release` first"
        )
    uv_command = uv()
    DIST.mkdir(exist_ok=True)
    collection = galaxy()
    tarball = DIST / f"{collection['namespace']}-{collection['name']}-{version}.tar.gz"
    wheel = DIST / f"hiload-{version}-py3-none-any.whl"
    for old in (tarball, wheel):
        old.unlink(missing_ok=True)
    run("ansible-galaxy", "collection", "build", "--output-path", str(DIST), ".")
    run(uv_command, "build", "--wheel", "--quiet", "--out-dir", str(DIST), ".")
    with tarfile.open(tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"hiload-{version}.dist-info/METADATA").decode()
    built = {
        tarball.name: manifest["collection_info"]["version"],
        wheel.name: re.search(r"^Version: (\S+)$", metadata, re.M)[1],  # type: ignore[index]
    }
    wrong = {name: found for name, found in built.items() if found != version}
    if wrong:
        raise RefusedError(f"built with another version than galaxy.yml's {version}: {wrong}")
    return [tarball, wheel]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("action", choices=["check", "build"])
    args = parser.parse_args()
    try:
        if args.action == "check":
            check()
        else:
            for artifact in build():
                sys.stdout.write(f"built {artifact.relative_to(ROOT)}\n")
    except RefusedError as refusal:
        sys.stderr.write(f"ERROR: {refusal}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
