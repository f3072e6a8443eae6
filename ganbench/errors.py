"""User-facing errors: one line, exit code 2, never a bare traceback."""


class GanbenchError(Exception):
    """A mistake in the user's input or environment, shown as a single line.

    The CLI catches it, prints ``str(err)`` and exits with :attr:`exit_code`.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class AssetUnavailable(GanbenchError):
    """An offline asset (data set, network weights) cannot be had from any source."""


class EnvironmentFault(GanbenchError):
    """The machine, not the input: a full disk, a read-only or unwritable folder, a path too long.

    It ends a run at once (no new trial is dispatched after it) with one line naming the path.
    """


#: errno values that say the environment cannot hold the results, with the words users know
ENV_ERRNOS = {
    "ENOSPC": "no space left on device",
    "EDQUOT": "disk quota exceeded",
    "EROFS": "read-only file system",
    "EACCES": "permission denied",
    "EPERM": "operation not permitted",
    "ENAMETOOLONG": "file name too long",
    "ENOTDIR": "a path component is not a directory",
}
#: what SQLite (through SQLAlchemy and MLflow) says for the same faults
_SQLITE_WORDS = {
    "database or disk is full": "ENOSPC",
    "attempt to write a readonly database": "EROFS",
    "unable to open database file": "EACCES",
}


def environment_fault(exc: BaseException, path: object = None) -> EnvironmentFault | None:
    """The :class:`EnvironmentFault` behind ``exc`` (searched along its causes), or None.

    ``path`` names the place when the error itself does not (an SQLite store's file).
    """
    import errno as errno_mod

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, EnvironmentFault):
            return current
        if isinstance(current, OSError) and current.errno is not None:
            name = errno_mod.errorcode.get(current.errno, "")
            if name in ENV_ERRNOS:
                where = current.filename if current.filename is not None else path
                return EnvironmentFault(f"{where}: {ENV_ERRNOS[name]} ({name})")
        text = str(current).lower()
        for words, name in _SQLITE_WORDS.items():
            if words in text:
                return EnvironmentFault(f"{path if path is not None else 'the MLflow store'}: "
                                        f"{ENV_ERRNOS[name]} ({name}; SQLite: {words})")
        current = current.__cause__ or current.__context__
    return None


class Interrupted(GanbenchError):
    """SIGINT or SIGTERM stopped a run (:mod:`ganbench.interrupt`): the CLI prints the one line
    (``interrupted: 12/44 finished; run the same command to resume``) and exits 130, as shells
    report a process ended by Ctrl-C."""

    exit_code = 130
