"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test (``--venv``) creates each virtual environment without pip and then runs
``~/.ansible/test/cache/get_pip_<pip version>.py`` through its quiet_pip.py wrapper,
with ``sys.argv[1:]`` like::

    --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel

It downloads the real script from a host that is not reachable here, unless the file is
already cached. tools/bootstrap.sh installs this file under that name: it seeds pip with
the interpreter's bundled ``ensurepip`` and then lets that pip install the requested
packages from the package index. Keep it compatible with every Python that ansible-test
supports for targets (3.8+).
"""

import subprocess
import sys

DROPPED = ('--no-setuptools', '--no-wheel')


def main():
    """Seed pip with ensurepip, then install the requested packages with it."""
    args = [arg for arg in sys.argv[1:] if arg not in DROPPED]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)

    if any(not arg.startswith('-') for arg in args):
        subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)


if __name__ == '__main__':
    main()
