"""The preflight's report: every refusal its checks kept, with the hosts that refused it.

Each check of the preflight role keeps what it refused in the host's __preflight_refusals
(tasks/refused.yml: its messages, and whether the check ran once for the whole inventory) instead
of stopping the run; tasks/report.yml fails once on all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def preflight_refusals(
    hosts: list[str], hostvars: Mapping[str, Any], departed: bool = True
) -> list[str]:
    """One line per distinct refusal, naming the hosts that made it unless every host did or the
    check speaks for the whole inventory; then, if DEPARTED, one line per host of HOSTS that
    left the run before its checks ended (no __preflight_checked, which checked.yml sets): it
    failed outside any check."""
    by_message: dict[str, list[str]] = {}
    for host in hosts:
        for refusal in hostvars[host].get("__preflight_refusals") or []:
            for message in refusal["messages"]:
                # One line each (an argument spec's refusal has line breaks), and a check that
                # names its host ("app1: ...") says the same as on every other host.
                text = " ".join(str(message).split()).removeprefix(f"{host}:").strip()
                refusers = by_message.setdefault(text, [])
                if not refusal["inventory_wide"] and host not in refusers:
                    refusers.append(host)
    lines = [
        f"{', '.join(refusers)}: {message}" if refusers and len(refusers) < len(hosts) else message
        for message, refusers in by_message.items()
    ]
    lines += [
        f"{host} left the run before its checks ended: see its error above."
        for host in hosts
        if departed and not hostvars[host].get("__preflight_checked")
    ]
    return lines


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"preflight_refusals": preflight_refusals}
