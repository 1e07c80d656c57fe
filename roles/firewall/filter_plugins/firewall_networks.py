"""Address filters for the firewall role, on Python's ipaddress (the controller lacks netaddr)."""

import ipaddress


def _network(value):
    """The network VALUE names (an address is a /32 or /128), or None when it names none."""
    try:
        return ipaddress.ip_network(str(value).strip(), strict=True)
    except ValueError:
        return None


def firewall_invalid_networks(values):
    """The entries of VALUES that are not an IP address or a CIDR without host bits."""
    return [value for value in values if _network(value) is None]


def _is_port(value):
    text = str(value).strip()
    return text.isdigit() and 1 <= int(text) <= 65535


def firewall_invalid_ports(values):
    """The entries of VALUES that are not a port 1-65535 (integers, or their decimal strings)."""
    return [value for value in values if not _is_port(value)]


def firewall_networks_of_family(values, family):
    """Entries of VALUES of IP version FAMILY (4 or 6), normalised, duplicates dropped."""
    networks = (_network(value) for value in values)
    selected = {str(net) for net in networks if net is not None and net.version == int(family)}
    return sorted(selected)


def _facts(hostvars, hostname):
    facts = hostvars[hostname].get("ansible_facts") if hostname in hostvars else None
    return facts or {}


def firewall_host_addresses(hostnames, hostvars):
    """Every default IPv4 and IPv6 address the gathered facts of HOSTNAMES report, sorted."""
    addresses = set()
    for hostname in hostnames:
        facts = _facts(hostvars, hostname)
        for key in ("default_ipv4", "default_ipv6"):
            address = (facts.get(key) or {}).get("address")
            if address:
                addresses.add(str(address))
    return sorted(addresses)


def firewall_hosts_without_address(hostnames, hostvars):
    """The HOSTNAMES whose facts report no default address (facts not gathered, or no route), each
    once and in their first order (a host may be in several of the groups they come from)."""
    return [
        name for name in dict.fromkeys(hostnames) if not firewall_host_addresses([name], hostvars)
    ]


class FilterModule:
    def filters(self):
        return {
            "firewall_invalid_networks": firewall_invalid_networks,
            "firewall_invalid_ports": firewall_invalid_ports,
            "firewall_networks_of_family": firewall_networks_of_family,
            "firewall_host_addresses": firewall_host_addresses,
            "firewall_hosts_without_address": firewall_hosts_without_address,
        }
