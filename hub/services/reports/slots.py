"""How many report runs execute at once, per backend.

Runs of the backends that execute on this host (local processes, docker containers)
share its cores and memory: at most ``reports.max_parallel`` run at once on each, by
default the host's cores, fewer when ``reports.run_memory`` per run would not fit in its
memory (:func:`host_parallel`); the others wait, queued. Slurm runs are not bounded
here: each is a batch job, and the cluster's queue decides when it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from hub.settings import Backend, Settings, memory_bytes

#: The backends whose runs execute on this host.
HOST_BACKENDS = (Backend.local, Backend.docker)


def host_cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0))


def host_memory() -> int:
    """The host's memory, in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def host_parallel(max_parallel: int | None, run_memory: str, cores: int, memory: int) -> int:
    """Runs at once on one host backend: ``max_parallel`` when set, else ``cores``, fewer
    when ``memory`` does not hold that many runs of ``run_memory``; at least 1."""
    if max_parallel is not None:
        return max_parallel
    return max(1, min(cores, memory // memory_bytes(run_memory)))


class RunSlots:
    """One bound per host backend (:func:`host_parallel`); none for the others."""

    def __init__(self, settings: Settings, cores: int | None = None, memory: int | None = None):
        self.limit = host_parallel(settings.reports.max_parallel, settings.reports.run_memory,
                                   host_cores() if cores is None else cores,
                                   host_memory() if memory is None else memory)
        self._slots = {backend: asyncio.Semaphore(self.limit) for backend in HOST_BACKENDS}

    def slot(self, backend: Backend):
        """An async context manager that holds one of ``backend``'s slots."""
        return self._slots.get(backend) or contextlib.nullcontext()
