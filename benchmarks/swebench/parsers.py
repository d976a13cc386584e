"""Per-test report parsers of SWE-bench test commands (trusted side, run on the host).

Registered in `benchmarks.reports`; each takes the command's whole output (untrusted: the
code under test writes to it too), never raises, reads at most MAX_TEXT characters and
returns `test id -> pass|fail|error|skip` with ids in the form of the dataset's
FAIL_TO_PASS / PASS_TO_PASS lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PARSERS: dict[str, Callable[[str], dict[str, str]]] = {}
"""SWE-bench's log formats; `benchmarks.reports` registers them with the others."""


def register(name: str):
    def wrap(fn):
        PARSERS[name] = fn
        return fn

    return wrap


MAX_TEXT = 32 * 1024 * 1024
MAX_ID = 2_000  # a longer "test id" is noise
SUMMARY = re.compile(r"^=+ short test summary info =+\s*$", re.MULTILINE)
PYTEST_STATUS = {
    "PASSED": "pass",
    "XFAIL": "pass",  # an expected failure counts as passing, as in SWE-bench's own grading
    "XPASS": "pass",
    "FAILED": "fail",
    "ERROR": "error",
    "SKIPPED": "skip",
}
SYMPY_STATUS = {"ok": "pass", "F": "fail", "E": "error", "s": "skip", "f": "skip", "X": "fail"}
SYMPY_LINE = re.compile(r"^(test_\w+)\s+(ok|F|E|s|f|X)\b")
# Django's runner at --verbosity 2 (unittest's verbose format): `<id> ... <status>`, where the
# id is `test_x (module.Class)` (`(module.Class.test_x)` on Python 3.11+) or, for a test
# with a docstring, the docstring's first line on the line after the name.
DJANGO_NAME = re.compile(r"^(\w+) \(([\w.]+)\)$")
DJANGO_STATUS = (
    ("ok", "pass"),
    ("OK", "pass"),
    ("expected failure", "pass"),
    ("skipped", "skip"),
    ("FAIL", "fail"),
    ("ERROR", "error"),
    ("unexpected success", "fail"),
)
DJANGO_SUMMARY = re.compile(r"^(FAIL|ERROR): (\w+ \([\w.]+\))\s*$")


@register("pytest-rA")
def parse_pytest_ra(text: str) -> dict[str, str]:
    """`pytest -rA`: the status lines of the *last* short test summary (earlier ones, and
    status-like lines in captured output before it, belong to output of the tests)."""
    try:
        text = text[-MAX_TEXT:]
        headers = list(SUMMARY.finditer(text))
        if headers:
            text = text[headers[-1].end() :]
        results: dict[str, str] = {}
        for line in text.splitlines():
            word, _, rest = line.strip().partition(" ")
            status = PYTEST_STATUS.get(word)
            if status is None or not rest or rest.startswith("["):  # "SKIPPED [1] file:line"
                continue
            if status in ("fail", "error") and " - " in rest:
                rest = rest.split(" - ", 1)[0]
            test = rest.strip()
            if test and len(test) <= MAX_ID:
                results[test] = status
                # SWE-bench's lists name a test by its first word (an id with a space in its
                # parameters is cut there); the last line wins, as in SWE-bench's grading.
                results[test.split()[0]] = status
        return results
    except Exception:  # noqa: BLE001 - a parser of untrusted text never raises
        return {}


@register("sympy-verbose")
def parse_sympy(text: str) -> dict[str, str]:
    """sympy's `bin/test --verbose`: `test_name ok|F|E|s|f|X` lines."""
    try:
        results: dict[str, str] = {}
        for line in text[-MAX_TEXT:].splitlines():
            match = SYMPY_LINE.match(line.strip())
            if match and len(match[1]) <= MAX_ID:
                name, status = match[1], SYMPY_STATUS[match[2]]
                if results.get(name) not in ("fail", "error"):  # a repeat never hides a failure
                    results[name] = status
        return results
    except Exception:  # noqa: BLE001 - a parser of untrusted text never raises
        return {}


def _django_status(rest: str) -> str | None:
    rest = rest.strip()
    for word, status in DJANGO_STATUS:
        if rest == word or (word == "skipped" and rest.startswith("skipped ")):
            return status
    return None


@register("django")
def parse_django(text: str) -> dict[str, str]:
    """Django's `tests/runtests.py --verbosity 2`. A status line is `<id> ... <status>`; a
    status can also come on a line of its own when the test printed something after the
    `...`. A test with a docstring is named on one line and reported under its docstring's
    first line on the next: both ids get the status (SWE-bench's lists use the latter). The
    `FAIL:`/`ERROR:` headers of the failure report mark tests failed too, and a failure is
    never hidden by a later `ok` of the same id (the tests' own output can print lines)."""
    try:
        results: dict[str, str] = {}

        def put(test: str, status: str) -> None:
            test = test.strip()
            if test and len(test) <= MAX_ID and results.get(test) not in ("fail", "error"):
                results[test] = status

        name = pending = ""  # the last `test_x (mod.Class)` line; the last id left open
        lines = text[-MAX_TEXT:].splitlines()
        for i, raw in enumerate(lines):
            line = raw.strip()
            summary = DJANGO_SUMMARY.match(line)
            if summary:
                status = "fail" if summary[1] == "FAIL" else "error"
                put(summary[2], status)
                after = lines[i + 1].strip() if i + 1 < len(lines) else ""
                if after and not after.startswith("-" * 10):  # the docstring line
                    put(after, status)
                continue
            if DJANGO_NAME.match(line):
                name, pending = line, ""
                continue
            test, sep, rest = line.rpartition(" ... ")
            status = _django_status(rest) if sep else None
            if sep and status is None:  # `id ... <output>`: the status comes later
                pending = test
                continue
            if not sep:
                status, test = _django_status(line), pending
                if status is None or not test:
                    continue
            put(test, status)
            if name and not DJANGO_NAME.match(test):  # reported under its docstring
                put(name, status)
            name = pending = ""
        return results
    except Exception:  # noqa: BLE001 - a parser of untrusted text never raises
        return {}


def parser_for(test_cmd: str) -> str:
    """The parser name for a test command ('' when none fits)."""
    if "runtests.py" in test_cmd:
        return "django"
    if "bin/test" in test_cmd:
        return "sympy-verbose"
    if "pytest" in test_cmd:
        return "pytest-rA" if "-rA" in test_cmd else ""
    return ""


def is_test_id(parser: str, test_id: str) -> bool:
    """Whether a FAIL_TO_PASS/PASS_TO_PASS entry names a test at all: SWE-bench's lists hold
    a few artifacts of its log parsing (a wrapped `PASSED [100%]` line gave the "test"
    `[100%]`), which no report can ever name."""
    if parser == "pytest-rA":
        return "::" in test_id or test_id.endswith(".py")
    if parser == "sympy-verbose":
        return SYMPY_LINE.match(test_id + " ok") is not None
    if parser == "django":  # a test name or a docstring line; never an empty or huge one
        return 0 < len(test_id.strip()) <= MAX_ID
    return True
