"""scripts/build-wheelhouse.sh keeps its promise about a dependency that publishes no wheel: a pure
Python one is built on the controller into a py3-none-any wheel that every target's wheelhouse
holds and pins; one whose source builds a wheel for the controller only (a platform wheel, as
any C extension's) is refused, naming the package and the Python, and leaves no wheelhouse or
archive behind.

Real builds, no mocks: each test writes a tiny package, makes its source distribution with uv,
puts it beside a tiny app's wheel in a directory of wheels (--wheels, whose directory pip also
searches), and runs the script into a fresh output directory. The script still downloads the
server's wheels (uvicorn, uvloop, httptools) for both targets from the index pip is set up with.
"""

import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".state" / "uv" / "bin" / "uv"
# The app hosts' Pythons (Debian 12's and 13's), by the wheelhouse's directory name.
TARGETS = {"cp311": "3.11.2", "cp313": "3.13.5"}
# What a refused build may leave in its output directory: the lock and the virtualenv whose pip
# downloads, both reused by the next build. Neither is a wheelhouse.
BUILD_CACHE = {".lock", ".pip"}


def write_package(
    directory: Path, name: str, *, dependencies: Sequence[str] = (), platform: bool = False
) -> Path:
    """A setuptools project NAME 0.1.0 in DIRECTORY/NAME of one module, whose wheel is for any
    Python, or, when PLATFORM, for the building Python and platform only: setuptools tags a
    wheel so when the distribution says it has extension modules, which is all a C extension
    changes in the tag, without needing a compiler here."""
    project = directory / name
    project.mkdir()
    module = name.replace("-", "_")
    requires = ", ".join(f'"{dependency}"' for dependency in dependencies)
    pyproject = (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = [{requires}]\n'
    )
    (project / f"{module}.py").write_text("def answer() -> int:\n    return 42\n")
    pyproject += f'\n[tool.setuptools]\npy-modules = ["{module}"]\n'
    if platform:
        (project / "setup.py").write_text(
            "from setuptools import setup\nfrom setuptools.dist import Distribution\n\n\n"
            "class PlatformDistribution(Distribution):\n"
            "    def has_ext_modules(self) -> bool:\n        return True\n\n\n"
            "setup(distclass=PlatformDistribution)\n"
        )
    (project / "pyproject.toml").write_text(pyproject)
    return project


def uv_build(kind: str, project: Path, dest: Path) -> None:
    """uv build --KIND (sdist or wheel) of PROJECT into DEST."""
    options = [f"--{kind}", "--quiet", "--python", sys.executable, "--out-dir", str(dest)]
    subprocess.run(
        [str(UV), "build", *options, str(project)],
        check=True,
        timeout=300,
        cwd=project,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )


def directory_of_wheels(tmp_path: Path, dependency: Path) -> Path:
    """What a user hands --wheels: an app's wheel depending on DEPENDENCY, DEPENDENCY's source
    distribution alone (no wheel), and a requirements.txt pinning both."""
    wheels = tmp_path / "wheels"
    name = dependency.name
    app = write_package(tmp_path, "hiload-probe-app", dependencies=[f"{name}==0.1.0"])
    uv_build("wheel", app, wheels)
    uv_build("sdist", dependency, wheels)
    (wheels / "requirements.txt").write_text(f"hiload-probe-app==0.1.0\n{name}==0.1.0\n")
    return wheels


def build_wheelhouse(wheels: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-wheelhouse.sh"), "--wheels", str(wheels), str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "HILOAD_WHEELHOUSE_PYTHONS": " ".join(TARGETS.values())},
    )


def test_a_pure_python_source_is_built_into_one_wheel_for_every_target(tmp_path: Path) -> None:
    dependency = write_package(tmp_path, "hiload-probe-pure")
    wheels = directory_of_wheels(tmp_path, dependency)
    out = tmp_path / "wheelhouse"

    result = build_wheelhouse(wheels, out)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "wheelhouse: changed"
    assert "Building hiload-probe-pure==0.1.0 from its source distribution" in result.stderr
    wheel = "hiload_probe_pure-0.1.0-py3-none-any.whl"
    for tag in TARGETS:
        with zipfile.ZipFile(out / tag / wheel) as built:
            assert "hiload_probe_pure.py" in built.namelist(), "the wheel of our source"
        assert "hiload-probe-pure==0.1.0" in (out / tag / "requirements.txt").read_text().split()
        with tarfile.open(out / f"{tag}.tar") as archive:
            assert f"./{wheel}" in archive.getnames(), f"{tag}.tar, which the role copies"


def test_a_platform_source_is_refused_naming_the_package_and_the_python(tmp_path: Path) -> None:
    dependency = write_package(tmp_path, "hiload-probe-native", platform=True)
    wheels = directory_of_wheels(tmp_path, dependency)
    out = tmp_path / "wheelhouse"

    result = build_wheelhouse(wheels, out)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    # The first target refuses it: its source builds for the controller's Python only.
    refusal = (
        f"ERROR: hiload-probe-native==0.1.0 has no wheel for CPython {TARGETS['cp311']}"
        " (manylinux x86_64) and is not pure Python"
    )
    assert refusal in output, output
    assert "wheelhouse:" not in result.stdout
    assert sorted(path.name for path in out.iterdir() if path.name not in BUILD_CACHE) == []
