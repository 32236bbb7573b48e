"""Peak memory of the process that asks, for the benchmarks' child processes."""

from __future__ import annotations

import resource


def peak_kib() -> int:
    """This process's own peak RSS in KiB. Not ru_maxrss: Linux carries the forking parent's
    peak over exec, so a child of a big parent would report the parent's memory as its own."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
