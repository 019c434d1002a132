"""docs/operations.md shows the deployment files under deploy/ verbatim, so the recipe and the files cannot drift (the
nginx template is checked the same way in tests/scaleout/test_nginx_chaos.py, which also runs it)."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name, fence", [("picket@.service", "ini"), ("picket.env.example", "sh")])
def test_the_operations_guide_shows_the_deployment_file(name, fence):
    """The file appears whole, in a fenced block of its kind."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    assert f"```{fence}\n" + (ROOT / "deploy" / name).read_text() + "```" in guide


def test_the_unit_file_starts_the_server_with_the_shared_settings():
    """One process per port, every process reading the one settings file (same SECRET_KEY, database, Redis)."""
    unit = (ROOT / "deploy" / "picket@.service").read_text()
    assert "EnvironmentFile=/etc/picket/env" in unit
    assert "PICKET_PORT=%i" in unit
    env = (ROOT / "deploy" / "picket.env.example").read_text()
    for name in ("SQLALCHEMY_DATABASE_URI", "MESSAGE_QUEUE", "SECRET_KEY", "PROCESSES", "AUTO_MIGRATE"):
        assert f"\nPICKET_{name}=" in env
