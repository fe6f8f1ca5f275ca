"""The ``local`` backend's dashboards: each dashboard's Voilà server is a process on this
machine, run as its author through :func:`hub.backends.local.policy.execution` (the
lab's policy)."""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import signal
import subprocess
import stat
import sys
import time
from pathlib import Path

from tornado.netutil import bind_unix_socket

from ...services.dashboards.runners import (
    EXECUTE_TIMEOUT,
    FILES_TIMEOUT,
    MAX_EXECUTED_BYTES,
    NOTEBOOK_EXECUTE,
    NOTEBOOK_FILES,
    VOILA_APP,
    FilesError,
    Launch,
    Runner,
    StartError,
    Upstream,
    UNIX_SOCKETS,
    die_with_parent,
    last_line,
    unix_host,
    unix_upstream,
    wait_answering,
    write_kernelspec,
)
from ...settings import Profile, Settings
from ...storage import Layout
from ..protocol import Person
from .policy import execution, isolated, preexec_fn, prepare
from .processes import end, family, kill_family


class LocalRunner(Runner):
    """Each dashboard's Voilà server is a process on this machine, run as its author's
    Unix account (when the service runs as root) with the author's home, library and
    partner spaces, like their lab; it requires a token.

    It listens on a Unix socket that the service binds itself, in a directory only the
    service's account may enter (``<data_dir>/dashboards/.sockets``, mode 0700), and
    hands to the process already listening (an inherited descriptor): no other account
    can listen there first, nor connect."""

    def __init__(self, settings: Settings, kernelspec_dir: Path):
        self.settings = settings
        self.kernelspec_dir = write_kernelspec(kernelspec_dir)
        self.processes: dict[str, subprocess.Popen] = {}
        self.socket_dir = private_directory(Layout(settings.data_dir).dashboards / ".sockets")
        self.preparing: dict[str, asyncio.Lock] = {}

    async def prepare(self, person: Person) -> Path:
        """:func:`~hub.backends.local.policy.prepare` the person's account (their home),
        one preparation of an account at a time: a dashboard's server and its picture's
        execution may start together, and two ``useradd`` of one account fail."""
        async with self.preparing.setdefault(person.name, asyncio.Lock()):
            return await asyncio.to_thread(prepare, self.settings, person)

    async def start(self, launch: Launch, arguments: list[str], timeout: float) -> Upstream:
        await self.stop(launch.dashboard.id)
        person = Person.of(launch.dashboard.author, launch.author_partners)
        try:
            home = await self.prepare(person)
        except (RuntimeError, OSError) as e:
            raise StartError(f"cannot prepare {launch.dashboard.author}'s account: {e}") from None
        spec = execution(self.settings, person, launch.profile)
        self._let_author_read(spec.account, launch.notebook.parent.parent)
        token = secrets.token_urlsafe(32)
        env = {
            "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "JUPYTER_PATH": str(self.kernelspec_dir),
            **spec.env,
            **launch.environment,
            "DATALAB_VOILA_TOKEN": token,
        }
        path = self.socket_dir / f"{launch.dashboard.id}.sock"
        listener = bind_unix_socket(str(path), mode=0o600)
        argv = [
            sys.executable, str(VOILA_APP), str(launch.notebook),
            f"--DashboardVoila.socket_fd={listener.fileno()}", f"--Voila.root_dir={launch.notebook.parent}",
            *arguments,
        ]
        become_author = preexec_fn(spec)

        def preexec() -> None:
            become_author()
            die_with_parent()

        try:
            process = subprocess.Popen(
                argv, env=env, cwd=home, preexec_fn=preexec, start_new_session=True,
                stdin=subprocess.DEVNULL, pass_fds=(listener.fileno(),),
            )
        finally:
            listener.close()
        self.processes[launch.dashboard.id] = process
        upstream = unix_upstream(launch.dashboard.id, path, token)
        try:
            await wait_answering(
                f"{upstream.url}{launch.prefix}datalab/kernels", token,
                lambda: process.poll() is None, timeout,
            )
        except StartError:
            await self.stop(launch.dashboard.id)
            raise
        return upstream

    def _let_author_read(self, account: str, directory: Path) -> None:
        """Give the author's account (group) read access to the dashboard's directory;
        other accounts get none (mode 0750 directories, 0640 files)."""
        if not isolated():
            return
        gid = pwd.getpwnam(account).pw_gid
        for dirpath, _, filenames in os.walk(directory):
            os.chown(dirpath, 0, gid)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), 0, gid)

    async def author_files(self, author: str, partners: set[str], profile: Profile, *args: str) -> bytes:
        person = Person.of(author, partners)
        try:
            home = await self.prepare(person)
        except (RuntimeError, OSError) as e:
            raise FilesError(f"cannot prepare {author}'s account: {e}") from None
        spec = execution(self.settings, person, profile)
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(NOTEBOOK_FILES), args[0], str(home), *args[1:],
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **spec.env}, cwd=home,
            preexec_fn=preexec_fn(spec), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), FILES_TIMEOUT)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise FilesError(f"reading {author}'s notebooks took over {FILES_TIMEOUT} s") from None
        if process.returncode != 0:
            raise FilesError(last_line(err, f"exit status {process.returncode}"))
        return out

    async def execute(self, author: str, partners: set[str], profile: Profile, notebook: Path) -> bytes:
        """A process as the author (their account, partners' groups, the profile's
        memory as ``RLIMIT_AS``), given the snapshot on its standard input."""
        person = Person.of(author, partners)
        try:
            await self.prepare(person)
        except (RuntimeError, OSError) as e:
            raise FilesError(f"cannot prepare {author}'s account: {e}") from None
        spec = execution(self.settings, person, profile)
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(NOTEBOOK_EXECUTE), "-", str(EXECUTE_TIMEOUT),
            env={"PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin", "LANG": "C.UTF-8",
                 "JUPYTER_PATH": str(self.kernelspec_dir), **spec.env},
            preexec_fn=preexec_fn(spec, memory_limit=True), start_new_session=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(notebook.read_bytes()), EXECUTE_TIMEOUT)
        except asyncio.TimeoutError:
            kill_family(process.pid)
            await process.wait()
            raise FilesError(f"executing the notebook took over {EXECUTE_TIMEOUT} s") from None
        finally:
            if process.returncode is None:  # cancelled (the service stops): its kernel too
                kill_family(process.pid)
        if process.returncode != 0:
            raise FilesError(last_line(err, f"exit status {process.returncode}"))
        if len(out) > MAX_EXECUTED_BYTES:
            raise FilesError(f"the executed notebook is larger than {MAX_EXECUTED_BYTES // 2**20} MiB")
        return out

    async def stop(self, dashboard_id: str) -> None:
        process = self.processes.pop(dashboard_id, None)
        try:
            await self._end(process)
        finally:
            path = self.socket_dir / f"{dashboard_id}.sock"
            UNIX_SOCKETS.pop(unix_host(dashboard_id), None)
            path.unlink(missing_ok=True)

    async def _end(self, process: subprocess.Popen | None) -> None:
        if process is None or process.poll() is not None:
            return
        started = family(process.pid)
        try:
            await self._end_group(process)
        finally:
            await end(started)

    @staticmethod
    async def _end_group(process: subprocess.Popen) -> None:
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if process.poll() is not None:
                return

    def running(self, dashboard_id: str) -> bool:
        process = self.processes.get(dashboard_id)
        return process is not None and process.poll() is None

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(d) for d in list(self.processes)))


def private_directory(path: Path) -> Path:
    """``path``, a directory of this process's account that no other may enter: made
    (mode 0700) when missing; refused (RuntimeError) when it is a link, another
    account's, or open to others. A socket a killed service left there is replaced
    when its dashboard starts again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    found = os.lstat(path)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid() or found.st_mode & 0o077:
        raise RuntimeError(f"{path}: must be a directory of uid {os.geteuid()} with mode 0700")
    return path
