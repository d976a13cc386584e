"""Fixtures for FM access tests: a loopback OpenAI server and a gateway in front of it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# tests/dgm/fm mirrors dgm/fm: with tests/ on sys.path and the editable install's finder
# consulted after it, `dgm` would resolve to a namespace package here. The repo root on
# sys.path makes the real package win (`pythonpath = ["."]` in pytest's config does it too).
ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.append(ROOT)
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for fm_fake_openai

from fm_fake_openai import FakeOpenAI  # noqa: E402

from dgm.fm import Gateway, MemoryLedger  # noqa: E402

PRICED_MODEL = "openai/gpt-4o-mini"  # in litellm's local price table


@pytest.fixture
def fake_openai(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-only-on-the-host")
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture
def ledger():
    return MemoryLedger()


@pytest.fixture
def make_gateway(fake_openai, ledger):
    """Build gateways pointed at the loopback server; all are closed after the test."""
    made = []

    def make(**kw):
        kw.setdefault("model", PRICED_MODEL)
        kw.setdefault("api_base", fake_openai.api_base)
        kw.setdefault("ledger", ledger)
        kw.setdefault("backoff", 0.01)
        kw.setdefault("timeout", 10)
        gw = Gateway(**kw)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.close()
