"""Loads the shared gateway fixtures from tests/python/gateway_fixture.py."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tests" / "python"))

from gateway_fixture import demo_dir, dmesh_bin, gateway  # noqa: E402,F401
