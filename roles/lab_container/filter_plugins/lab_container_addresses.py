"""Address checks for the lab_container role, on Python's ipaddress (no netaddr here)."""

import ipaddress


def lab_container_misplaced(hosts, subnet):
    """Names of the HOSTS entries whose fixed address is not an IPv4 address in SUBNET.

    Every entry with an address is misplaced when SUBNET is empty or not an IPv4 network."""
    try:
        network = ipaddress.IPv4Network(str(subnet), strict=True)
    except ValueError:
        network = None
    misplaced = []
    for host in hosts:
        if "address" not in host:
            continue
        try:
            inside = network is not None and ipaddress.IPv4Address(str(host["address"])) in network
        except ValueError:
            inside = False
        if not inside:
            misplaced.append(host.get("name", str(host)))
    return misplaced


class FilterModule:
    def filters(self):
        return {"lab_container_misplaced": lab_container_misplaced}
