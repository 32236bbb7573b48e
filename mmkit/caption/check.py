"""Checks made before a run starts: every input the user named must be there.

A typo in a path is a usage error (exit status 2), not an item: it stops the run before anything
is sent or written, so a rerun with the path fixed starts clean.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable

from mmkit.errors import ConfigError

_GLOB_CHARS = frozenset("*?[")


def check_inputs(inputs: Iterable[str | os.PathLike[str]]) -> None:
    """ConfigError naming every local input that is no file, folder or glob with a match."""
    missing = [os.fspath(given) for given in inputs if not _found(os.fspath(given))]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ConfigError(
            f"no such file, folder or glob match: {', '.join(missing[:5])}{more} "
            f"(relative to {os.getcwd()}); check the path"
        )


def _found(text: str) -> bool:
    if text.startswith(("http://", "https://")):
        return True  # fetched per item: a missing URL is that item's error
    try:
        os.lstat(text)
        return True  # a dangling link or an unreadable file is reported per item
    except (FileNotFoundError, NotADirectoryError):
        pass
    except (OSError, ValueError):
        return True  # there but not readable (a name too long, no permission): its item says so
    # the shell passes a glob that matched nothing as it is: mmkit expands it, once
    globbed = bool(_GLOB_CHARS & set(text))
    return globbed and next(glob.iglob(text, recursive=True), None) is not None
