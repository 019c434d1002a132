"""The app factory: configuration layers (defaults, instance/config.py, PICKET_* env, test config) and the rule
that only the entry point knows about eventlet."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from coordinator import create_app
from coordinator.config import Defaults

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, os, stat, sys
from coordinator import create_app
from coordinator.extensions import db, socketio
app = create_app()
with app.app_context():
    url = str(db.engine.url)
key = os.path.join(app.instance_path, "secret_key")
print(json.dumps({k: app.config.get(k) for k in ("ASYNC_MODE", "PORT", "ACTION_BURST", "MAX_HTTP_BUFFER_SIZE",
                                                  "BABEL_DEFAULT_LOCALE", "LANGUAGES", "SECRET_KEY", "MESSAGE_QUEUE",
                                                  "CORS_ALLOWED_ORIGINS", "RUN_TICKER")}
                 | {"db_url": url, "instance": app.instance_path, "async": socketio.server.eio.async_mode,
                    "key_mode": oct(stat.S_IMODE(os.stat(key).st_mode)) if os.path.exists(key) else None,
                    "eventlet_loaded": "eventlet" in sys.modules, "gevent_loaded": "gevent" in sys.modules}))
"""


def probe(instance: Path, **env) -> dict:
    """Build the app in a fresh interpreter (no test config) and report its configuration."""
    clean = {k: x for k, x in os.environ.items() if not k.startswith("PICKET_")}
    clean.update({"PICKET_INSTANCE_PATH": str(instance), "PYTHONPATH": str(ROOT), **env})
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_defaults(tmp_path):
    """With nothing configured: eventlet mode, SQLite in the instance folder, Russian first, a generated secret."""
    cfg = probe(tmp_path / "inst")
    assert cfg["ASYNC_MODE"] == "eventlet" == cfg["async"]
    assert cfg["db_url"] == f"sqlite:///{tmp_path / 'inst' / 'picket.db'}"
    assert cfg["MAX_HTTP_BUFFER_SIZE"] == 16_384 and cfg["PORT"] == 5000
    assert cfg["BABEL_DEFAULT_LOCALE"] == "ru" and cfg["LANGUAGES"][0] == "ru"
    assert cfg["MESSAGE_QUEUE"] is None and cfg["CORS_ALLOWED_ORIGINS"] is None
    # The secret key is generated once, kept private in the instance folder and reused by the next start.
    assert len(cfg["SECRET_KEY"]) == 64 and cfg["key_mode"] == "0o600"
    assert (tmp_path / "inst" / "secret_key").read_text().strip() == cfg["SECRET_KEY"]
    assert probe(tmp_path / "inst")["SECRET_KEY"] == cfg["SECRET_KEY"]


def test_instance_config_then_environment(tmp_path):
    """instance/config.py overrides the defaults; PICKET_* variables override both."""
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "config.py").write_text("PORT = 5123\nACTION_BURST = 7\nSECRET_KEY = 'from-instance'\n")
    cfg = probe(inst, PICKET_ASYNC_MODE="threading")
    assert (cfg["PORT"], cfg["ACTION_BURST"], cfg["SECRET_KEY"]) == (5123, 7, "from-instance")
    assert not (inst / "secret_key").exists()
    cfg = probe(inst, PICKET_ASYNC_MODE="threading", PICKET_ACTION_BURST="9",
                PICKET_SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/other.db")
    assert cfg["ACTION_BURST"] == 9 and cfg["PORT"] == 5123
    assert cfg["db_url"] == f"sqlite:///{tmp_path}/other.db"


def test_async_mode_is_a_setting(tmp_path):
    """threading and gevent modes come from configuration, and the package itself never imports eventlet."""
    cfg = probe(tmp_path / "a", PICKET_ASYNC_MODE="threading")
    assert cfg["async"] == "threading"
    assert cfg["eventlet_loaded"] is False and cfg["gevent_loaded"] is False
    assert probe(tmp_path / "b", PICKET_ASYNC_MODE="gevent")["async"] == "gevent"


def test_test_config_skips_instance_and_env(tmp_path, monkeypatch):
    """A test config dict is used as given: no instance config.py, no environment."""
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "config.py").write_text("ACTION_BURST = 7\n")
    monkeypatch.setenv("PICKET_INSTANCE_PATH", str(inst))
    monkeypatch.setenv("PICKET_PORT", "7777")
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ASYNC_MODE": "threading", "RUN_TICKER": False,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/t.db"})
    assert app.config["ACTION_BURST"] == Defaults.ACTION_BURST and app.config["PORT"] == Defaults.PORT
    assert app.testing and app.instance_path == str(inst)


def test_eventlet_only_in_the_entry_point():
    """Only wsgi.py imports eventlet or gevent or monkey-patches; the package has no trace of it."""
    offenders = []
    for path in sorted((ROOT / "coordinator").rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"\b(import\s+eventlet|from\s+eventlet|import\s+gevent|from\s+gevent)\b", code) \
                    or "monkey_patch" in code or "patch_all" in code:
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []
    wsgi = (ROOT / "wsgi.py").read_text()
    assert "eventlet.monkey_patch()" in wsgi
    # Patching happens before the app package is imported.
    assert wsgi.index("monkey_patch()") < wsgi.index("from coordinator import create_app")


def test_grep_check_would_notice(tmp_path):
    """The pattern above catches the usual ways of importing eventlet."""
    pattern = r"\b(import\s+eventlet|from\s+eventlet|import\s+gevent|from\s+gevent)\b"
    for line in ("import eventlet", "from eventlet import wsgi", "from gevent import monkey"):
        assert re.search(pattern, line)
    assert not re.search(pattern, '"eventlet.wsgi",  # a logger name')


@pytest.mark.parametrize("name", ["MAX_HTTP_BUFFER_SIZE", "ACTION_BURST", "ASYNC_MODE", "MESSAGE_QUEUE",
                                  "SQLALCHEMY_DATABASE_URI", "PING_INTERVAL", "MAX_CONTENT_LENGTH"])
def test_settings_reach_the_app(tmp_path, name):
    """Settings given to the factory are the ones the app uses."""
    values = {"MAX_HTTP_BUFFER_SIZE": 1234, "ACTION_BURST": 3, "ASYNC_MODE": "threading", "MESSAGE_QUEUE": None,
              "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "PING_INTERVAL": 7,
              "MAX_CONTENT_LENGTH": 999}
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "RUN_TICKER": False, **values})
    from coordinator.extensions import socketio
    assert app.config[name] == values[name]
    if name == "MAX_HTTP_BUFFER_SIZE":
        assert socketio.server.eio.max_http_buffer_size == 1234
    if name == "PING_INTERVAL":
        assert socketio.server.eio.ping_interval == 7
