"""The network guard first (so nothing the tests import can reach the network), then the shared fixtures:
tests/fixtures/ is loaded as a pytest plugin; test modules import its helpers from there."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "_netguard"))

import netguard  # noqa: E402

netguard.install()
pytest.register_assert_rewrite("fixtures")

pytest_plugins = ["fixtures.tutor", "fixtures.fake_openai"]
