"""Fixtures for every test.

- ``BCDESKTOP_HOME`` points at a fresh temporary folder in every test, so the audit
  trail, the settings and the log that commands write never touch the real per-user
  folder (a test of the default folders removes it again with ``monkeypatch``).
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory, monkeypatch):
    """A private per-user folder for this test."""
    path = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("BCDESKTOP_HOME", str(path))
    return path
