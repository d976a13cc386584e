"""Fixtures for FM access tests: a loopback OpenAI server and a gateway in front of it."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from dgm.fm import Gateway, MemoryLedger  # noqa: E402

from .fake_openai import FakeOpenAI  # noqa: E402

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
