"""Files out of a Debian package (.deb) without installing it.

A .deb is an ``ar`` archive (deb(5)): the member ``debian-binary``, then ``control.tar.*``, then
``data.tar.*`` holding the files as installed (paths relative to ``/``, usually written ``./usr/...``).
The data tarball is compressed with xz (most packages, e.g. ``dataset-fashion-mnist``), gzip,
bzip2, zstd, or not at all. Python's :mod:`tarfile` reads all but zstd; zstd needs the
``zstandard`` package, which is used only if it is installed.

The ``ar`` format (ar(5), "common" format as written by GNU ar and dpkg-deb): the magic
``!<arch>\\n``, then per member a 60-byte ASCII header (name 16, mtime 12, uid 6, gid 6,
mode 8, size 10, the two bytes ``\\x60\\n``) followed by the data, padded to an even length.
Python has no module for it; the reader below follows that layout.

:func:`apt_download` fetches a package's .deb with ``apt-get download`` (no root needed,
nothing installed; it needs ``apt-get update`` to have been run once on the machine).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from ganbench.errors import GanbenchError

AR_MAGIC = b"!<arch>\n"
_HEADER = 60


def ar_members(data: bytes, origin: str = "archive") -> dict[str, bytes]:
    """The members of an ``ar`` archive, by name (GNU ``name/`` endings stripped)."""
    if not data.startswith(AR_MAGIC):
        raise GanbenchError(f"{origin}: not a Debian package (no ar archive magic)")
    members: dict[str, bytes] = {}
    pos = len(AR_MAGIC)
    while pos < len(data):
        if data[pos:pos + 1] == b"\n":  # padding byte
            pos += 1
            continue
        header = data[pos:pos + _HEADER]
        if len(header) < _HEADER or header[58:60] != b"`\n":
            raise GanbenchError(f"{origin}: corrupt ar member header at byte {pos}")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise GanbenchError(f"{origin}: corrupt ar member size at byte {pos}") from None
        start = pos + _HEADER
        if start + size > len(data):
            raise GanbenchError(f"{origin}: truncated ar member {name!r}")
        members[name] = data[start:start + size]
        pos = start + size + (size % 2)
    return members


def _open_data_tar(name: str, blob: bytes, origin: str) -> tarfile.TarFile:
    if name.endswith(".zst"):
        try:
            import zstandard
        except ImportError:
            raise GanbenchError(f"{origin}: its {name} is zstd-compressed; install the 'zstandard' "
                                "package to read it") from None
        blob = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob)).read()
    try:
        return tarfile.open(fileobj=io.BytesIO(blob), mode="r:*")
    except tarfile.TarError as exc:
        raise GanbenchError(f"{origin}: cannot read {name}: {exc}") from None


def deb_files(deb: bytes, paths: list[str], origin: str = "package") -> dict[str, bytes]:
    """The bytes of the installed files ``paths`` (absolute, e.g. ``/usr/share/x``) in a .deb."""
    members = ar_members(deb, origin)
    data_names = [n for n in members if n.startswith("data.tar")]
    if not data_names:
        raise GanbenchError(f"{origin}: no data.tar.* member (members: {', '.join(members)})")
    wanted = {p.lstrip("/"): p for p in paths}
    out: dict[str, bytes] = {}
    with _open_data_tar(data_names[0], members[data_names[0]], origin) as tar:
        for info in tar:
            key = info.name.removeprefix("./").lstrip("/")
            if key in wanted and info.isfile():
                out[wanted[key]] = tar.extractfile(info).read()
    missing = [p for p in paths if p not in out]
    if missing:
        raise GanbenchError(f"{origin}: the package holds no {', '.join(missing)}")
    return out


def apt_download(spec: str, dest: Path) -> tuple[Path | None, str]:
    """``apt-get download SPEC`` into ``dest``; ``(path of the .deb, "")`` or ``(None, why)``.

    A machine whose package lists were never fetched (a fresh container) knows no package: when
    the download fails and we run as root, the lists are fetched once (``apt-get update``, which
    installs nothing) and the download is tried again.
    """
    apt = shutil.which("apt-get")
    if apt is None:
        return None, "apt-get is not installed"
    got, why = _apt_get_download(apt, spec, dest)
    if got is None and hasattr(os, "geteuid") and os.geteuid() == 0:
        try:
            subprocess.run([apt, "update", "-qq"], capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired):
            return None, why
        got, why = _apt_get_download(apt, spec, dest)
    return got, why


def _apt_get_download(apt: str, spec: str, dest: Path) -> tuple[Path | None, str]:
    try:
        proc = subprocess.run([apt, "download", spec], cwd=dest, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"apt-get download {spec} failed: {exc}"
    debs = sorted(Path(dest).glob("*.deb"))
    if proc.returncode != 0 or not debs:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.startswith("E:")]
        return None, f"apt-get download {spec} failed ({(lines or ['exit %d' % proc.returncode])[-1]})"
    return debs[0], ""
