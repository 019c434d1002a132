"""The scale-out suites reuse the real-client helpers of tests/server and the fixtures' helpers of tests/conftest.py
(imported first by every module here; a conftest.py of its own would shadow the shared one)."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE.parent / "server", HERE.parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
