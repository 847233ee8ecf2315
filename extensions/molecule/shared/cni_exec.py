"""Attach or detach a network namespace with a CNI network file, the way a
runtime does (ADD in order with prevResult, DEL in reverse), for verify steps.

  cni_exec.py add|del NETWORK_FILE NETNS CONTAINER_ID BIN_DIR
Prints the CNI result of ADD as JSON.
"""
import json
import os
import subprocess
import sys

cmd, path, netns, cid, bin_dir = sys.argv[1:6]
doc = json.load(open(path))
plugins = doc.get("plugins") or [{k: v for k, v in doc.items() if k not in ("cniVersion", "name")}]
env = dict(os.environ, CNI_COMMAND=cmd.upper(), CNI_CONTAINERID=cid, CNI_NETNS=netns,
           CNI_IFNAME="eth0", CNI_PATH=bin_dir)
prev = None
for p in plugins if cmd == "add" else list(reversed(plugins)):
    conf = dict(p, cniVersion=doc["cniVersion"], name=doc["name"])
    if prev is not None and cmd == "add":
        conf["prevResult"] = prev
    res = subprocess.run([os.path.join(bin_dir, p["type"])], input=json.dumps(conf).encode(),
                         env=env, capture_output=True, check=False)
    if res.returncode != 0:
        sys.exit(f"{p['type']} {cmd.upper()} failed: {res.stdout.decode()} {res.stderr.decode()}")
    if cmd == "add":
        prev = json.loads(res.stdout)
print(json.dumps(prev or {}))
