"""plugins/filter/hiload_files.py: a role skips writing a path only when a find saw it as wanted."""

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_filters() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "hiload_files", ROOT / "plugins" / "filter" / "hiload_files.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


differs = load_filters().hiload_differs
TEXT = "# Ansible managed\nnet.core.somaxconn = 4096\n"


def found(**entry: object) -> dict[str, list[dict[str, object]]]:
    """A find result holding one entry: a root-owned 0644 file of TEXT unless told otherwise."""
    wanted = {
        "path": "/etc/sysctl.d/90-hiload.conf",
        "mode": "0644",
        "pw_name": "root",
        "gr_name": "root",
        "checksum": hashlib.sha1(TEXT.encode()).hexdigest(),
    }
    return {"files": [{**wanted, **entry}]}


def test_a_file_as_wanted_is_left_alone() -> None:
    assert not differs(found(), "/etc/sysctl.d/90-hiload.conf", TEXT)


def test_a_path_the_read_did_not_see_differs() -> None:
    assert differs(found(), "/etc/sysctl.d/91-other.conf", TEXT)
    assert differs({"files": []}, "/etc/sysctl.d/90-hiload.conf", TEXT)
    assert differs(None, "/etc/sysctl.d/90-hiload.conf", TEXT)


def test_other_content_differs() -> None:
    assert differs(found(), "/etc/sysctl.d/90-hiload.conf", TEXT + "# drift\n")
    assert differs(found(), "/etc/sysctl.d/90-hiload.conf", TEXT.rstrip("\n"))


def test_other_mode_owner_or_group_differs() -> None:
    path = "/etc/sysctl.d/90-hiload.conf"
    assert differs(found(mode="0600"), path, TEXT)
    assert differs(found(pw_name="nobody"), path, TEXT)
    assert differs(found(gr_name="adm"), path, TEXT)
    assert not differs(found(mode="0640", gr_name="hiload"), path, TEXT, "0640", "root", "hiload")


def test_a_directory_is_compared_by_its_attributes_only() -> None:
    directory = found(path="/etc/nftables.d", mode="0755", checksum=None)
    assert not differs(directory, "/etc/nftables.d", mode="0755")
    assert differs(directory, "/etc/nftables.d", mode="0700")
