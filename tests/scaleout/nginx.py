"""nginx in front of the server processes, configured from deploy/nginx-picket.conf.template (the file the operations
guide shows), with its own prefix, main configuration and a self-signed certificate."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import requests
import urllib3

from conftest import ROOT, free_port, unavailable

TEMPLATE = ROOT / "deploy" / "nginx-picket.conf.template"
WORKER_CONNECTIONS = 4096  # each phone takes two (client side and upstream side): see docs/operations.md
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


def render(servers: list[str], **values: str) -> str:
    """The template with every @@NAME@@ replaced; servers are host:port of the processes."""
    lines = "\n    ".join(f"server {s} max_fails=1 fail_timeout=10s;" for s in servers)
    text = TEMPLATE.read_text().replace("@@SERVERS@@", lines)
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    assert "@@" not in "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#")), text
    return text


class Nginx:
    """`nginx -p PREFIX -c PREFIX/nginx.conf`, in the foreground, as our own child process."""

    def __init__(self, prefix: Path, servers: list[str]):
        """Write the configuration and a certificate; not started."""
        if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
            unavailable("nginx (apt-get install -y nginx-light)")
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.prefix, self.port, self.http_port = prefix, free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        (prefix / "tmp").mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-keyout", str(prefix / "key.pem"), "-out", str(prefix / "cert.pem")],
                       check=True, capture_output=True)
        (prefix / "picket.conf").write_text(render(
            servers, LISTEN=f"127.0.0.1:{self.port} ssl http2", SERVER_NAME="127.0.0.1", CERT=str(prefix / "cert.pem"),
            KEY=str(prefix / "key.pem"), HTTP_PORT=f"127.0.0.1:{self.http_port}", ERROR_LOG=str(prefix / "error.log")))
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read our temporary folder
        tmp = prefix / "tmp"
        (prefix / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log crit;\n"
            f"worker_rlimit_nofile {2 * WORKER_CONNECTIONS + 100};\n"
            f"events {{ worker_connections {WORKER_CONNECTIONS}; }}\n"
            f"http {{\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
            f"  include {prefix}/picket.conf;\n}}\n")
        self.proc = None

    def start(self) -> "Nginx":
        """Check the configuration, start, wait until it proxies /healthz."""
        conf = ["-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"), "-e", str(self.prefix / "error.log")]
        check = subprocess.run([self.binary, "-t", *conf], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen([self.binary, *conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, (self.prefix / "error.log").read_text()
            try:
                if requests.get(self.url + "/healthz", timeout=2, verify=False).ok:
                    return self
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop our nginx (its master process, which takes its worker with it)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
