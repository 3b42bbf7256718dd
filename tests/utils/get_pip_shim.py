"""Offline stand-in for ansible-test's pip bootstrap script.

ansible-test runs ``get-pip-X.Y.py`` from ci-files.testing.ansible.com inside each fresh sanity
virtual environment; that host is unreachable here, PyPI is not. This script does the same job
with ensurepip and then the requested pip from PyPI.
"""

import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)
