"""The documented scale-out deployment, started for a test: PostgreSQL, Redis, `flask db upgrade` once, N processes
with one SECRET_KEY and PROCESSES=N, and nginx in front (docs/operations.md, "A recipe")."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, ServerProcess
from nginx import Nginx


class Cluster:
    """Processes and nginx; `stop()` stops them all."""

    def __init__(self, folder: Path, db_url: str, redis_url: str, processes: int = 3, extra_env: dict | None = None):
        """Migrate, start the processes, then nginx."""
        self.env = {"PICKET_SQLALCHEMY_DATABASE_URI": db_url, "PICKET_MESSAGE_QUEUE": redis_url,
                    "PICKET_SECRET_KEY": secrets.token_hex(32), "PICKET_PROCESSES": str(processes),
                    "PICKET_AUTO_MIGRATE": "false", **(extra_env or {})}
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "coordinator:create_app()", "db", "upgrade"],
                              cwd=ROOT, env={**os.environ, **self.env, "PICKET_INSTANCE_PATH": str(folder / "migrate")},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        self.servers: list[ServerProcess] = []
        self.nginx: Nginx | None = None
        try:
            for i in range(processes):
                srv = ServerProcess(folder / f"p{i}", db_url=db_url, message_queue=redis_url, extra_env=self.env)
                self.servers.append(srv)
                srv.start()
            self.nginx = Nginx(folder / "nginx", [f"127.0.0.1:{s.port}" for s in self.servers])
            self.nginx.start()
        except BaseException:
            self.stop()  # nothing is left running when the set-up fails half-way
            raise
        self.url = self.nginx.url

    def stop(self) -> None:
        """Stop nginx and every process."""
        if self.nginx is not None:
            self.nginx.stop()
        for s in self.servers:
            s.stop()
