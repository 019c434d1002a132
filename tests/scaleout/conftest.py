"""The scale-out suites reuse the real-client helpers of tests/server."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
