"""Stand-in for ansible-test's get-pip bootstrap script, which it downloads from a host CI cannot reach.

ansible-test runs it as ``python get_pip.py [pip options] pip==X ...`` inside a fresh venv. This does
the same from the standard library's ensurepip and PyPI: bootstrap pip, then install what was asked.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null; the machine's pip.conf (index, CA) must apply again.
os.environ.pop("PIP_CONFIG_FILE", None)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
