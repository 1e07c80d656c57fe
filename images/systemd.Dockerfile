# The image every lab and Molecule host boots: Debian with systemd as PID 1.
# Only what Ansible itself and the tests' probes need is added here; everything a role
# installs is installed by the role, so the tests prove the install.
ARG BASE_IMAGE=debian:bookworm
FROM ${BASE_IMAGE}

ENV container=docker \
    DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8

# python3-apt: the apt module; iproute2/procps: ss and ps for testinfra.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-apt iproute2 procps ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

# The apt module's cache_valid_time reads the age of update-success-stamp, which only this hook
# (Ubuntu's update-notifier-common ships it, Debian nothing) keeps: without it every apt task
# with cache_valid_time fetched the package lists again once they were an hour old.
RUN printf '%s\n' 'APT::Update::Post-Invoke-Success {"touch /var/lib/apt/periodic/update-success-stamp 2>/dev/null || true";};' \
        >/etc/apt/apt.conf.d/15update-stamp

# Units that have no job in a container and only slow the boot or fail.
RUN systemctl mask getty.target console-getty.service systemd-logind.service \
        systemd-udevd.service systemd-udev-trigger.service systemd-remount-fs.service \
        sys-kernel-debug.mount sys-kernel-tracing.mount dev-hugepages.mount \
        systemd-firstboot.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
 && rm -f /etc/machine-id /var/lib/dbus/machine-id && touch /etc/machine-id

STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
