"""Private Redis and PostgreSQL servers for tests that break them on purpose (the shared ones are never touched)."""
from __future__ import annotations
import _paths  # noqa: F401 - first: puts tests/server on the path

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from conftest import ServerProcess, free_port, unavailable


class PrivateRedis:
    """A redis-server of our own on a free port, without persistence; stop() and start() it at will."""

    def __init__(self, folder: Path):
        """Not started yet."""
        if not shutil.which("redis-server"):
            unavailable("redis-server")
        self.folder, self.port, self.proc = folder, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"
        folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> "PrivateRedis":
        """Start and wait until it answers."""
        import redis
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.folder)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return self
            except redis.RedisError:
                assert time.monotonic() < deadline, "private redis-server did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop it (our own process only)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _pg_bin(name: str) -> str:
    """A PostgreSQL server program (Debian keeps them out of PATH)."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if not found:
        unavailable(f"PostgreSQL's {name}")
    return found


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temporary folder, trust on 127.0.0.1, a free port)."""

    def __init__(self):
        """Create the cluster (not started) in a folder of its own that the postgres user can reach."""
        self.folder, self.port = Path(tempfile.mkdtemp(prefix="picket-pg-")), free_port()
        self.data = self.folder / "data"
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        args = [_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]
        if os.geteuid() == 0:  # initdb refuses to run as root: run it as the postgres user
            shutil.chown(self.folder, "postgres")
            args = ["runuser", "-u", "postgres", "--", *args]
        subprocess.run(args, check=True, capture_output=True, env=env)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        """Run pg_ctl on the cluster (as postgres when we are root)."""
        cmd = [_pg_bin("pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True)

    def start(self) -> "PrivatePostgres":
        """Start, listening on 127.0.0.1 only, with the socket in our folder."""
        self._ctl("-l", str(self.folder / "pg.log"), "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        return self

    def stop(self) -> None:
        """Stop (fast: open connections are cut)."""
        if (self.data / "postmaster.pid").exists():
            self._ctl("-m", "fast", "stop")

    def remove(self) -> None:
        """Stop and delete the cluster (the folder goes even if stopping failed)."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class StartingServer(ServerProcess):
    """A server process that counts as started once /healthz answers at all (a 503 `busy` included)."""

    def start(self, timeout: float = 60) -> "StartingServer":
        """Start and wait for any answer from /healthz."""
        self.instance.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([os.sys.executable, "wsgi.py"], cwd=Path(__file__).resolve().parents[2],
                                     env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()[-3000:]
            try:
                requests.get(self.url + "/healthz", timeout=2)
                return self
            except requests.RequestException:
                time.sleep(0.2)
        raise AssertionError(f"server did not start: {self.output()[-3000:]}")

    def health(self) -> int:
        """The status of /healthz now."""
        return requests.get(self.url + "/healthz", timeout=30).status_code
