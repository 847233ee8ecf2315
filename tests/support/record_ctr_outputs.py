"""Record real ctr outputs from every containerd of the matrix for the parser unit tests.

Run with `.venv/bin/python tests/support/record_ctr_outputs.py`; writes
tests/unit/fixtures/ctr-<version>/<name>.txt. Starts and stops its own rig daemons.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rig.containerd import Containerd, available_versions  # noqa: E402
from rig.images import build_image  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "fixtures")


def record(version, image):
    daemon = Containerd(version).start()
    try:
        def save(name, *args, check=True):
            result = daemon.ctr_run(*args, check=check)
            target = os.path.join(OUT, "ctr-" + version)
            os.makedirs(target, exist_ok=True)
            with open(os.path.join(target, name + ".txt"), "w") as handle:
                handle.write(result.stdout if result.returncode == 0 else result.stderr)

        daemon.ctr_run("namespaces", "create", "web", "team=web", "tier=front")
        daemon.ctr_run("namespaces", "create", "empty")
        save("namespaces_ls", "namespaces", "ls")
        daemon.ctr_run("images", "import", image["path"])
        save("images_ls_q", "images", "ls", "-q")
        save("images_ls", "images", "ls")
        daemon.ctr_run("run", "-d", image["ref"], "sleeper", "sleep", "600")
        daemon.ctr_run("containers", "create", image["ref"], "created-only", "sleep", "1")
        daemon.ctr_run("run", "-d", image["ref"], "paused", "sleep", "600")
        daemon.ctr_run("tasks", "pause", "paused")
        save("containers_ls_q", "containers", "ls", "-q")
        save("containers_ls", "containers", "ls")
        save("tasks_ls", "tasks", "ls")
        save("containers_info", "containers", "info", "sleeper")
        save("version", "version")
        save("error_not_found", "containers", "info", "nosuch", check=False)
        save("error_exists", "namespaces", "create", "web", check=False)
    finally:
        daemon.stop()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        image = build_image(os.path.join(tmp, "busybox.tar"), "docker.io/rig/busybox:1", "busybox")
        for version in available_versions():
            record(version, image)
            print("recorded ctr %s" % version)


if __name__ == "__main__":
    main()
