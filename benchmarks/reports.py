"""Per-test reports of native test runners, parsed on the host (trusted side).

A parser turns a runner's report text into `test id -> status`, status one of `pass`,
`fail`, `error`, `skip`. The grader (`benchmarks/grading.py`) compares that with the task's
`TestPlan.expected`: every expected test must be reported `pass`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from xml.etree.ElementTree import XMLParser

Parser = Callable[[str], dict[str, str]]
PARSERS: dict[str, Parser] = {}
STATUSES = ("pass", "fail", "error", "skip")


def register(name: str) -> Callable[[Parser], Parser]:
    """Register a parser under `name` (the value of `TestPlan.report_format`)."""

    def wrap(fn: Parser) -> Parser:
        PARSERS[name] = fn
        return fn

    return wrap


def parse(name: str, text: str) -> dict[str, str]:
    """Parse `text` with the parser `name`; an unknown name is a KeyError (a suite's bug)."""
    return PARSERS[name](text)


# -- the polyglot languages' reports -----------------------------------------------------------
# Reports are the agent's programs' output as far as the host is concerned: every parser
# reads at most MAX_REPORT characters, never raises, and keeps what it could read. XML goes
# through a parser that resolves no entities (no external fetch, no expansion bomb).
MAX_REPORT = 20_000_000
MAX_TESTS = 100_000


def _merge(results: dict[str, str], test_id: str, status: str) -> None:
    """Record a status; a test reported twice keeps its worst status (fail over pass)."""
    if len(results) >= MAX_TESTS and test_id not in results:
        return
    order = {"pass": 0, "skip": 1, "fail": 2, "error": 3}
    if test_id not in results or order[status] > order[results[test_id]]:
        results[test_id] = status


class _Events:
    """A streaming XML target: start/end events with attributes, no tree kept."""

    def __init__(self, on_start, on_end):
        self.on_start, self.on_end = on_start, on_end

    def start(self, tag, attrib):
        self.on_start(tag, attrib)

    def end(self, tag):
        self.on_end(tag)

    def data(self, data):
        pass

    def close(self):
        return None


def _feed_xml(text: str, target) -> None:
    if "<!DOCTYPE" in text[:2000] or "<!ENTITY" in text:
        return  # reports never declare entities; one that does is not a report
    parser = XMLParser(target=target)
    try:
        parser.feed(text[:MAX_REPORT])
        parser.close()
    except Exception:  # noqa: BLE001 - garbage in, what was read so far out
        pass


@register("junit-xml")
def parse_junit_xml(text: str) -> dict[str, str]:
    """JUnit XML (the JUnit Platform console launcher's legacy report, Maven Surefire): id
    `classname.name`, the method's parameter list dropped (`encode()` -> `encode`)."""
    results: dict[str, str] = {}
    current: list = []  # [id, status] of the open testcase

    def start(tag, attrib):
        if tag == "testcase":
            name = re.sub(r"\(.*\)$", "", attrib.get("name", ""))
            cls = attrib.get("classname", "")
            current[:] = [f"{cls}.{name}" if cls else name, "pass"]
        elif current and tag in ("failure", "error", "skipped"):
            current[1] = {"failure": "fail", "error": "error", "skipped": "skip"}[tag]

    def end(tag):
        if tag == "testcase" and current:
            _merge(results, current[0], current[1])
            current.clear()

    _feed_xml(text, _Events(start, end))
    return results


@register("catch2-xml")
def parse_catch2_xml(text: str) -> dict[str, str]:
    """Catch2's own XML reporter (`-r xml`): one `TestCase` per test case, its
    `OverallResult success` the verdict over all its sections."""
    results: dict[str, str] = {}
    stack: list[str] = []

    def start(tag, attrib):
        if tag == "TestCase":
            stack.append(attrib.get("name", ""))
        elif tag == "OverallResult" and stack:
            ok = attrib.get("success") == "true"
            skipped = attrib.get("skips", "0") not in ("", "0")
            _merge(results, stack[-1], "pass" if ok and not skipped else "fail")

    def end(tag):
        if tag == "TestCase" and stack:
            name = stack.pop()
            results.setdefault(name, "error")  # a test case that never reached a verdict

    _feed_xml(text, _Events(start, end))
    return results


@register("go-test-json")
def parse_go_test_json(text: str) -> dict[str, str]:
    """`go test -json`: one JSON event per line; `pass`/`fail`/`skip` actions of a named
    test (subtests keep their `Parent/sub` names)."""
    results: dict[str, str] = {}
    for line in text[:MAX_REPORT].splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        test, action = event.get("Test"), event.get("Action")
        if isinstance(test, str) and test and action in ("pass", "fail", "skip"):
            _merge(results, test, action)
    return results


CARGO_RUNNING = re.compile(r"^\s*Running (?:unittests )?(\S+)")
CARGO_RESULT = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored(?:, .*)?)$")


@register("cargo-test")
def parse_cargo_test(text: str) -> dict[str, str]:
    """cargo test's human output: `Running tests/x.rs (...)` names the binary, then
    `test path::name ... ok|FAILED|ignored`; ids `x::path::name`. Lines of a binary whose
    source is not under `tests/` (unit tests, doc tests) are left out."""
    results: dict[str, str] = {}
    binary: str | None = None
    for line in text[:MAX_REPORT].splitlines():
        running = CARGO_RUNNING.match(line)
        if running:
            source = running.group(1)
            binary = source[len("tests/") : -len(".rs")] if source.startswith("tests/") else None
            continue
        if line.startswith("   Doc-tests"):
            binary = None
            continue
        result = CARGO_RESULT.match(line)
        if result and binary:
            status = {"ok": "pass", "FAILED": "fail"}.get(result.group(2), "skip")
            _merge(results, f"{binary}::{result.group(1)}", status)
    return results


JEST_STATUS = {"passed": "pass", "failed": "fail", "pending": "skip", "skipped": "skip",
               "todo": "skip", "disabled": "skip", "focused": "pass"}  # fmt: skip


@register("jest-json")
def parse_jest_json(text: str) -> dict[str, str]:
    """jest's `--json` report: ids `describe > ... > title` (see polyglot.scan.JS_SEP)."""
    results: dict[str, str] = {}
    try:
        report = json.loads(text[:MAX_REPORT])
    except ValueError:
        return results
    suites = report.get("testResults") if isinstance(report, dict) else None
    for suite in suites if isinstance(suites, list) else []:
        cases = suite.get("assertionResults") if isinstance(suite, dict) else None
        for case in cases if isinstance(cases, list) else []:
            if not isinstance(case, dict):
                continue
            titles = case.get("ancestorTitles")
            title = case.get("title")
            if not isinstance(title, str) or not isinstance(titles, list):
                continue
            test_id = " > ".join([*(str(t) for t in titles), title])
            _merge(results, test_id, JEST_STATUS.get(str(case.get("status")), "error"))
    return results


# Suites' own formats, kept beside their suites (SWE-bench's test runners' logs).
from benchmarks.swebench.parsers import PARSERS as _SWEBENCH  # noqa: E402

PARSERS.update(_SWEBENCH)
