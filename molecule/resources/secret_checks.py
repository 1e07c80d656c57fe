"""A scenario's secrets and where they may be: never in a playbook's output, on a host only in
the files that must hold them, owned and moded as those files must be.

Shared by molecule/default (every secret: the converge's -vvv log, every file of its
hosts), molecule/single-host (every file of the one host) and molecule/own_app (an app's own
token too, in the log and on both hosts). A secret is a name and the
fragments that would show it: a password itself; each line of a private key's body, and the
whole key in base64 as a slurp would return it. One finder, leaks() in text and holders() on a
host, serves the real checks and the tests' proof that they find a secret left in the open.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from inventory import inventory_listing
from testinfra.host import Host

Secrets = Mapping[str, tuple[str, ...]]

# Every tree a role, a package or a service writes to (binary files too: the journal).
SEARCHED = ("/etc", "/opt", "/srv", "/usr/local", "/var", "/root", "/home", "/tmp", "/run")
VANISHED = ": No such file or directory"


@dataclass(frozen=True)
class Holder:
    """A file that must hold SECRETS (their names), owned OWNER:GROUP with mode MODE."""

    path: str
    owner: str
    group: str
    mode: int
    secrets: frozenset[str]


def inventory_passwords(inventory: str) -> dict[str, tuple[str, ...]]:
    """Every *_password variable of INVENTORY's hosts, by name: its values on every host, as
    written (ansible-inventory renders no template; the scenarios' passwords are plain)."""
    found: dict[str, set[str]] = {}
    for variables in inventory_listing(inventory)["_meta"]["hostvars"].values():
        for name, value in variables.items():
            if name.endswith("_password"):
                found.setdefault(name, set()).add(str(value))
    return {name: tuple(sorted(values)) for name, values in found.items()}


def pem_body(pem: str) -> list[str]:
    return [
        line.strip() for line in pem.splitlines() if line.strip() and not line.startswith("-----")
    ]


def private_key(pem: str) -> tuple[str, ...]:
    """What would show a PEM private key: each line of its body, and all of it in base64.

    A line that is also in the key's public half is left out: an EC key's last line holds the
    public point, which the key's public key (printed by openssl_privatekey, in certificates)
    shows as well, and showing it is no leak."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_lines = pem_body(public.decode())
    body = tuple(line for line in pem_body(pem) if not any(line in p for p in public_lines))
    assert body, "no line of the key is private alone"
    return (*body, base64.b64encode(pem.encode()).decode())


def leaks(text: str, secrets: Secrets) -> set[str]:
    """The names of the SECRETS that TEXT shows."""
    return {name for name, fragments in secrets.items() if any(f in text for f in fragments)}


def holders(host: Host, secrets: Secrets, roots: Iterable[str] = SEARCHED) -> dict[str, set[str]]:
    """{path: names of the SECRETS it holds} for every file under ROOTS on HOST."""
    roots = list(roots)

    def grep(fragments: Iterable[str], paths: list[str], *recursive: str) -> list[str]:
        patterns = [arg for fragment in fragments for arg in ("-e", fragment)]
        arguments = [*recursive, *patterns, "--", *paths]
        listing = host.run("grep -lF " + " ".join(["%s"] * len(arguments)), *arguments)
        # rc 1: nothing found; rc 2 for files that vanished while searched (/run, /tmp) is no
        # error, for anything else it is.
        errors = [e for e in listing.stderr.splitlines() if not e.endswith(VANISHED)]
        assert listing.rc in (0, 1) or (listing.rc == 2 and not errors), listing.stderr
        return [str(path) for path in listing.stdout.splitlines()]

    # One pass over the trees for any fragment, then one per secret over the files it found.
    candidates = grep((f for fragments in secrets.values() for f in fragments), roots, "-r")
    found: dict[str, set[str]] = {}
    for name, fragments in secrets.items():
        for path in grep(fragments, candidates) if candidates else []:
            found.setdefault(path, set()).add(name)
    return found


def misplaced(
    host: Host, found: Mapping[str, set[str]], expected: Iterable[Holder], secrets: Secrets
) -> list[str]:
    """What is wrong with where FOUND (holders()) says the SECRETS are: an EXPECTED holder
    without its secrets, with another's or with another owner or mode; any other file holding
    one that is not root's alone (root:root, nothing for the group or others)."""
    problems = []
    wanted = {holder.path: holder for holder in expected}
    for path, holder in sorted(wanted.items()):
        held = found.get(path, set())
        missing = holder.secrets - held
        # Another name for a value the file must hold is no stranger (hiload_app_database_password
        # is postgresql_app_password).
        allowed = {secrets[name] for name in holder.secrets}
        strangers = {name for name in held - holder.secrets if secrets[name] not in allowed}
        if missing or strangers:
            problems.append(f"{path} lacks {sorted(missing)}, holds others' {sorted(strangers)}")
        file = host.file(path)
        if file.exists and (file.user, file.group, file.mode) != (
            holder.owner,
            holder.group,
            holder.mode,
        ):
            problems.append(
                f"{path} is {file.user}:{file.group} {file.mode:04o},"
                f" not {holder.owner}:{holder.group} {holder.mode:04o}"
            )
    for path in sorted(set(found) - set(wanted)):
        file = host.file(path)
        if (file.user, file.group) != ("root", "root") or file.mode & 0o077:
            problems.append(
                f"{path} ({file.user}:{file.group} {file.mode:04o}) holds {sorted(found[path])}"
            )
    return problems
