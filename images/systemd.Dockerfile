# The image every lab and Molecule host boots: Debian with systemd as PID 1.
# Only what Ansible itself and the tests' probes need is added here; everything a role
# installs is installed by the role, so the tests prove the install.
ARG BASE_IMAGE=debian:bookworm
FROM ${BASE_IMAGE}

ENV container=docker \
    DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8

# python3-apt: the apt module; iproute2/procps: ss and ps for testinfra; openssh-server: the
# lab's way in (below).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-apt iproute2 procps ca-certificates \
        openssh-server \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && touch -d @0 /var/lib/apt/lists

# The apt module's cache_valid_time reads the age of update-success-stamp, which only this hook
# (Ubuntu's update-notifier-common ships it, Debian nothing) keeps: without it every apt task
# with cache_valid_time fetched the package lists again once they were an hour old. Until the
# first update there is no stamp and the module reads the lists directory's mtime instead: dated
# 1970 above, or an image built minutes ago would pass its emptied lists for fresh and every
# install would fail with "No package matching".
RUN printf '%s\n' 'APT::Update::Post-Invoke-Success {"touch /var/lib/apt/periodic/update-success-stamp 2>/dev/null || true";};' \
        >/etc/apt/apt.conf.d/15update-stamp

# Units that have no job in a container and only slow the boot or fail.
RUN systemctl mask getty.target console-getty.service systemd-logind.service \
        systemd-udevd.service systemd-udev-trigger.service systemd-remount-fs.service \
        sys-kernel-debug.mount sys-kernel-tracing.mount dev-hugepages.mount \
        systemd-firstboot.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
 && rm -f /etc/machine-id /var/lib/dbus/machine-id && touch /etc/machine-id

# sshd for the lab, where Ansible connects over SSH as it does to real hosts (a docker exec costs
# ~50 ms more than a channel on an open SSH connection, on every task). Not enabled: the lab
# starts it (playbooks/lab.yml); Molecule scenarios reach their hosts with docker exec and keep
# port 22 free. No host keys in the image: each container makes its own on sshd's first start.
RUN rm -f /etc/ssh/ssh_host_*_key* \
 && systemctl disable ssh.service \
 && mkdir -p /etc/systemd/system/ssh.service.d \
 && printf '%s\n' '[Service]' 'ExecStartPre=' 'ExecStartPre=/usr/bin/ssh-keygen -A' \
        'ExecStartPre=/usr/sbin/sshd -t' \
        >/etc/systemd/system/ssh.service.d/hostkeys.conf

# A host applies /etc/sysctl.d at every boot; a container shares the machine's kernel, and Docker
# mounts /proc/sys read-only. This platform unit stands in for systemd-sysctl (masked: run with a
# writable /proc/sys it would set kernel-wide keys such as kernel.pid_max on the machine itself):
# it makes /proc/sys writable and applies only the net.* keys, which belong to the container's own
# network namespace, before any service listens. A restarted container comes back tuned.
COPY hiload-container-sysctl.service /etc/systemd/system/
RUN systemctl mask systemd-sysctl.service \
 && systemctl enable hiload-container-sysctl.service

STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
