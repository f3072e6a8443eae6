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
