"""Stand-in for pip's get-pip.py, used by ansible-test when it bootstraps a venv.

The official script is downloaded from a host that this kind of machine cannot
reach. ensurepip provides pip offline; the requested packages are then
installed with the environment as it was before ensurepip, which keeps the
machine's pip configuration (index mirrors) in effect.
"""
import os
import subprocess
import sys

env = dict(os.environ)
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], env=env,
                      stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args, env=env))
