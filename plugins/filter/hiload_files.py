"""Whether a file or directory a role manages differs from what a `find` on the host read.

A role reads all the paths it manages in one `ansible.builtin.find` (get_checksum: true) and
runs a template, copy or file task only for a path this filter reports as differing. An
unchanged template costs Ansible two module runs on the host (a stat, then the file module
for the attributes) and two shell steps for a temporary directory, on every run; the read
costs one module run per host for all of them. Anything the read did not see, or saw
otherwise, differs: the task then runs and decides as it always does.
"""

import hashlib


def hiload_differs(found, path, content=None, mode="0644", owner="root", group="root"):
    """True unless FOUND (a registered find result) holds PATH with this MODE, OWNER and GROUP,
    and, when CONTENT is given, a file of exactly that text (compared by SHA-1)."""
    for entry in (found or {}).get("files", []):
        if entry.get("path") != path:
            continue
        if (entry.get("mode"), entry.get("pw_name"), entry.get("gr_name")) != (mode, owner, group):
            return True
        if content is None:
            return False
        # SHA-1 because find reports SHA-1 (checksum_algorithm defaults to it).
        wanted = hashlib.sha1(str(content).encode("utf-8")).hexdigest()
        return entry.get("checksum") != wanted
    return True


class FilterModule:
    def filters(self):
        return {"hiload_differs": hiload_differs}
