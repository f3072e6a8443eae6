"""Where ganbench keeps its cache and its results."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """The ganbench cache: ``$GANBENCH_CACHE``, default ``~/.cache/ganbench``."""
    root = os.environ.get("GANBENCH_CACHE") or Path.home() / ".cache" / "ganbench"
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json_lines(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The JSON objects of a ``.jsonl`` file, in order; a missing file reads as none.

    Blank lines, lines that do not parse (a half-written last line after a kill) and lines
    that are not a JSON object are skipped, so a partial write is never read as a result.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def check_writable_dir(path: str | os.PathLike, what: str) -> Path:
    """Make sure ``path`` is (or can be made) a directory we can write in; return it resolved.

    Raises :class:`ganbench.errors.EnvironmentFault` with one line naming the path
    (``--results naming a file``, a read-only or full file system, no permission, a name too
    long), so that a run stops before Ray starts rather than in every trial.
    """
    import errno

    from ganbench.errors import ENV_ERRNOS, EnvironmentFault, environment_fault

    path = Path(path).expanduser().absolute()
    for part in [path, *path.parents]:
        if part.exists():
            if not part.is_dir():
                raise EnvironmentFault(f"{what} {path}: {part} is a file, not a directory (ENOTDIR)")
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".ganbench-write-test{os.getpid()}"
        with open(probe, "wb") as fh:
            fh.write(b"\0" * 65536)  # room for at least a status file and a few records
            fh.flush()
            os.fsync(fh.fileno())
        probe.unlink()
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            (path / f".ganbench-write-test{os.getpid()}").unlink(missing_ok=True)
        if environment_fault(exc, path) is None:
            raise
        name = errno.errorcode.get(exc.errno, "")
        raise EnvironmentFault(f"{what} {path}: {ENV_ERRNOS[name]} ({name})") from None
    return path.resolve()


def check_name_fits(folder: str | os.PathLike, name: str, what: str) -> None:
    """A name must fit the file system as one path component (``ENAMETOOLONG`` otherwise)."""
    from ganbench.errors import EnvironmentFault

    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(os.fsencode(name)) > limit:
        raise EnvironmentFault(f"{what} {name[:40]}...: a name of {len(os.fsencode(name))} bytes does not fit "
                               f"in {folder} (at most {limit}; ENAMETOOLONG)")
