"""Copy the Swagger UI assets out of the wheelhouse so nginx can serve /docs from disk.

Usage: extract_docs_assets.py WHEEL_DIR OUT_DIR — prints "changed" when OUT_DIR was rewritten.
The assets come from the same wheel the hosts install, so the docs page and its files match.
"""

import re
import shutil
import sys
import zipfile
from pathlib import Path

ASSETS = re.compile(r"^swagger_ui_bundle/vendor/swagger-ui-[^/]+/(?P<name>[^/]+)$")


def main(wheel_dir: Path, out_dir: Path) -> int:
    wheels = sorted(wheel_dir.glob("swagger_ui_bundle*.whl"))
    if len(wheels) != 1:
        found = len(wheels)
        sys.stderr.write(f"expected one swagger_ui_bundle wheel in {wheel_dir}, found {found}\n")
        return 1
    stamp = out_dir / ".source"
    if stamp.is_file() and stamp.read_text() == wheels[0].name:
        return 0
    staging = out_dir.with_name(out_dir.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with zipfile.ZipFile(wheels[0]) as wheel:
        for member in wheel.namelist():
            match = ASSETS.match(member)
            if match and not match["name"].endswith((".map", ".j2")):
                (staging / match["name"]).write_bytes(wheel.read(member))
    (staging / ".source").write_text(wheels[0].name)
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    sys.stdout.write("changed\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
