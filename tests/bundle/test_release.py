"""The release: one version from galaxy.yml in every artifact, a changelog entry before any build,
what the collection tarball leaves out, and the pre-commit hooks in step with `make lint`.

Each release test works on a copy of the checkout's files (tracked and new, as git lists them),
so `antsibull-changelog release` and the builds change nothing here. Real tools, no mocks:
antsibull-changelog, ansible-galaxy and uv build the real artifacts.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VERSION = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    "UV": str(ROOT / ".state" / "uv" / "bin" / "uv"),
}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the checkout's files, without its virtualenv, state or build output."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    copy = tmp_path / "hiload"
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def release(checkout: Path, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/release.py", action],
        cwd=checkout,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_an_unreleased_version_builds_nothing(checkout: Path) -> None:
    """galaxy.yml's version with no changelog release (or with fragments left) is refused with
    the command that makes one, before dist/ exists."""
    released = yaml.safe_load((checkout / "changelogs" / "changelog.yaml").read_text())["releases"]
    if VERSION in released:
        (checkout / "changelogs" / "fragments" / "waiting.yml").write_text(
            "---\nbugfixes:\n  - A change not yet in a release.\n"
        )
        expected = "changelog fragments not in any release: waiting.yml"
    else:
        expected = f"galaxy.yml's version {VERSION} is not a release in changelogs/changelog.yaml"
    result = release(checkout, "build")
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stderr
    assert "antsibull-changelog release" in result.stderr
    assert not (checkout / "dist").exists()


def test_a_release_builds_the_collection_and_the_wheel_at_one_version(checkout: Path) -> None:
    subprocess.run(
        ["antsibull-changelog", "release", "--version", VERSION],
        cwd=checkout,
        env=ENV,
        capture_output=True,
        check=True,
        timeout=300,
    )
    assert f"## v{VERSION.replace('.', chr(92) + '.')}" in (checkout / "CHANGELOG.md").read_text()
    assert not list((checkout / "changelogs" / "fragments").glob("*.yml"))
    result = release(checkout, "build")
    assert result.returncode == 0, result.stdout + result.stderr
    tarball = checkout / "dist" / f"hiload-stack-{VERSION}.tar.gz"
    wheel = checkout / "dist" / f"hiload-{VERSION}-py3-none-any.whl"
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
        manifest = json.load(archive.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    assert manifest["collection_info"]["version"] == VERSION
    for kept in (
        "LICENSE",
        "CHANGELOG.md",
        "meta/runtime.yml",
        "roles/hiload_app/tasks/main.yml",
        "playbooks/site.yml",
        "service/hiload_api/main.py",
        "scripts/build-wheelhouse.sh",
        "uv.lock",
    ):
        assert kept in names, kept
    for left_out in ("molecule", "tests", "service/tests", "roles/lab_container", ".venv", "bench"):
        assert not any(name == left_out or name.startswith(f"{left_out}/") for name in names), (
            left_out
        )
    assert "playbooks/lab.yml" not in names
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"hiload-{VERSION}.dist-info/METADATA").decode()
    assert f"\nVersion: {VERSION}\n" in metadata


def test_the_readme_must_name_galaxys_version(checkout: Path) -> None:
    readme = checkout / "README.md"
    assert release(checkout, "check").returncode == 0
    readme.write_text(readme.read_text().replace(f"hiload-stack-{VERSION}", "hiload-stack-0.9.9"))
    result = release(checkout, "check")
    assert result.returncode == 1
    assert f"README.md names version 0.9.9; galaxy.yml's is {VERSION}" in result.stderr


def test_the_pre_commit_hooks_run_what_make_lint_runs() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no lint target in the Makefile"
    linted = {line.strip() for line in recipe[1].splitlines()}
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in config["repos"]), "a hook would need network"
    assert all(hook["language"] == "system" for hook in hooks)
    entries = {hook["entry"].removeprefix(".venv/bin/") for hook in hooks}
    assert entries == linted
