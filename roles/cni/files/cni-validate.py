# Checks a CNI network document (stdin or a file) the way a runtime would need
# it: JSON, known cniVersion, name, plugin types present in the bin dirs, and
# host-local ranges whose gateway lies inside the subnet.
import ipaddress
import json
import os
import sys

VERSIONS = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}
NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def check_ipam(ipam, where):
    ranges = ipam.get("ranges") or ([[{k: ipam[k] for k in ("subnet", "gateway") if k in ipam}]] if "subnet" in ipam else [])
    for rs in ranges:
        for r in rs:
            try:
                net = ipaddress.ip_network(r["subnet"], strict=False)
            except (KeyError, ValueError) as e:
                fail(f"{where}: bad or missing subnet in ipam range {r}: {e}")
            if "gateway" in r:
                try:
                    gw = ipaddress.ip_address(r["gateway"])
                except ValueError as e:
                    fail(f"{where}: bad gateway {r['gateway']!r}: {e}")
                if gw not in net:
                    fail(f"{where}: gateway {gw} is not inside subnet {net}")


def main():
    args = sys.argv[1:]
    bin_dirs = []
    while args and args[0] == "--bin-dir":
        bin_dirs.append(args[1])
        args = args[2:]
    src = args[0] if args else "-"
    text = sys.stdin.read() if src == "-" else open(src).read()
    try:
        doc = json.loads(text)
    except ValueError as e:
        fail(f"not JSON: {e}")
    if not isinstance(doc, dict):
        fail("the document must be a JSON object")
    ver = doc.get("cniVersion")
    if ver not in VERSIONS:
        fail(f"cniVersion {ver!r} is not one of {sorted(VERSIONS)}")
    name = doc.get("name")
    if not name or not isinstance(name, str) or set(name) - NAME_OK:
        fail(f"name {name!r} must be letters, digits, '_', '.' or '-'")
    plugins = doc["plugins"] if "plugins" in doc else [doc]
    if not isinstance(plugins, list) or not plugins:
        fail("plugins must be a non-empty list")
    for i, p in enumerate(plugins):
        where = f"network {name}, plugin {i}"
        if not isinstance(p, dict) or not p.get("type"):
            fail(f"{where}: every plugin needs a type")
        dirs = [d for d in bin_dirs if d]
        if dirs and not any(os.access(os.path.join(d, p["type"]), os.X_OK) for d in dirs):
            fail(f"{where}: plugin {p['type']!r} not found in {', '.join(dirs)}")
        if isinstance(p.get("ipam"), dict):
            check_ipam(p["ipam"], where)


main()
