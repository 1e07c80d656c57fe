"""Another release for deploy tests, under a local version suffix (`<version>+<suffix>`): of the
bundled service, the project's wheelhouse with the service wheel rebuilt, laid out and archived
exactly as scripts/build-wheelhouse.sh does, so the app role installs it like any release; of an
app of one's own, a copy of its project, which the deploy builds as it builds any project."""

import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

TAGS = ("cp311", "cp313")
# What a copied project leaves behind: its build output and the caches of a local run.
NOT_COPIED = (
    "build",
    "dist",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
)


def _uv(project: Path) -> str:
    found = shutil.which("uv") or str(project / ".state" / "uv" / "bin" / "uv")
    assert Path(found).exists(), "uv is needed to build another service wheel (run: make venv)"
    return found


# Where a project's version is written: a Python project's pyproject.toml, and this repository's
# galaxy.yml, which its own pyproject.toml reads the service's version from.
PYPROJECT_VERSION = (r'^version = "([^"]+)"', 'version = "{}"')
GALAXY_VERSION = (r"^version: (\S+)$", "version: {}")


def _bumped(text: str, suffix: str, where: tuple[str, str] = PYPROJECT_VERSION) -> tuple[str, str]:
    """(TEXT with the version WHERE finds suffixed +SUFFIX, that version)."""
    pattern, line = where
    match = re.search(pattern, text, re.M)
    assert match, f"no version line matching {pattern}"
    version = f"{match[1]}+{suffix}"
    return re.sub(pattern, line.format(version), text, count=1, flags=re.M), version


def another_wheelhouse(
    project: Path, root: Path, suffix: str, change: Callable[[Path], None] | None = None
) -> tuple[Path, str]:
    """(wheelhouse directory under ROOT, the version it holds). CHANGE, if given, edits the
    copied service package (its directory) before the build: a release with different code."""
    source = root / "source"
    shutil.copytree(project / "service" / "hiload_api", source / "service" / "hiload_api")
    if change is not None:
        change(source / "service" / "hiload_api")
    shutil.copy(project / "README.md", source / "README.md")
    shutil.copy(project / "pyproject.toml", source / "pyproject.toml")
    galaxy, version = _bumped((project / "galaxy.yml").read_text(), suffix, GALAXY_VERSION)
    (source / "galaxy.yml").write_text(galaxy)
    subprocess.run(
        [_uv(project), "build", "--wheel", "--quiet", "--out-dir", str(root / "dist"), str(source)],
        check=True,
        timeout=300,
    )
    wheel = next((root / "dist").glob("hiload-*.whl"))
    out = root / "wheelhouse"
    for tag in TAGS:
        tag_dir = out / tag
        shutil.copytree(project / "build" / "wheelhouse" / tag, tag_dir)
        for old in tag_dir.glob("hiload-*.whl"):
            old.unlink()
        shutil.copy(wheel, tag_dir)
        requirements = (tag_dir / "requirements.txt").read_text()
        requirements = re.sub(r"^hiload==.*$", f"hiload=={version}", requirements, flags=re.M)
        (tag_dir / "requirements.txt").write_text(requirements)
        (tag_dir / "RELEASE").write_text(f"{version}-{tag}\n")
        with tarfile.open(out / f"{tag}.tar", "w") as archive:
            for path in sorted(tag_dir.iterdir()):
                archive.add(path, arcname=f"./{path.name}")
    return out, version


def another_project(
    project: Path, app: Path, root: Path, suffix: str, change: Callable[[Path], None] | None = None
) -> tuple[Path, str]:
    """(a copy under ROOT of the Python project APP with its version suffixed +SUFFIX, that
    version). CHANGE, if given, edits the copy (its directory) first: a release with different
    code or a new migration. Its uv.lock, if any, is brought in step as a user releasing it would:
    the locked versions are kept, only the project's own version changes. Not --offline: that
    reads the index from uv's cache, which a machine that never resolved the app lacks (alembic
    "not found in the cache"). PROJECT is this repository, for its uv."""
    copy = root / app.name
    shutil.copytree(app, copy, ignore=shutil.ignore_patterns(*NOT_COPIED))
    if change is not None:
        change(copy)
    pyproject, version = _bumped((copy / "pyproject.toml").read_text(), suffix)
    (copy / "pyproject.toml").write_text(pyproject)
    if (copy / "uv.lock").exists():
        subprocess.run(
            [_uv(project), "lock", "--quiet", "--directory", str(copy)],
            check=True,
            timeout=300,
        )
    return copy, version
