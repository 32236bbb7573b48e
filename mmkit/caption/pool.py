"""The encoding processes' start method: forkserver, without re-running the user's `__main__`.

multiprocessing's spawn and forkserver children re-run the parent's main script (as
`__mp_main__`) so that functions defined there can be unpickled. A script that calls
`mmkit.caption.run(...)` at top level, with no `if __name__ == "__main__":` guard, then starts a
run again inside every worker, which fails ("An attempt has been made to start a new process
before the current process has finished its bootstrapping phase") and breaks the pool. The
workers run only mmkit's code, so they are started with the parent's sys.path and working folder
but never its main module: the same in a plain script, a notebook and the REPL.
"""

from __future__ import annotations

import io
import multiprocessing
import os
from multiprocessing import context, forkserver, popen_forkserver, reduction, spawn, util
from typing import Any

# The keys with which spawn.prepare() re-runs the parent's main module in a child.
_MAIN_KEYS = ("init_main_from_name", "init_main_from_path")


def _preparation_data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = spawn.get_preparation_data(name)
    for key in _MAIN_KEYS:
        data.pop(key, None)
    return data


def _close(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


class _Popen(popen_forkserver.Popen):
    """The stdlib's forkserver launch (unchanged from 3.10 to 3.13) minus the main module."""

    def _launch(self, process_obj: Any) -> None:
        prep_data = _preparation_data(process_obj._name)
        buf = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
        # the child watches this duplicate of the data pipe to know its parent is alive
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, _close, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Process(context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


class _Context(context.ForkServerContext):
    Process = _Process


def worker_context() -> Any:
    """The multiprocessing context for the pool: forkserver without the main module where
    there is a forkserver (Linux, macOS); plain spawn elsewhere (Windows: guard your script)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        return _Context()
    return multiprocessing.get_context("spawn")
