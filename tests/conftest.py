"""Makes the rig (tests/support/rig) importable from every test layer."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
