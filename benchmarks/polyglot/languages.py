"""What each language of the polyglot benchmark needs: which test files to hide, how to
enable the tests a track marks as skipped for students, the ids those tests report, and the
command that compiles and runs them with no network in the polyglot image.

Commands run with the working directory at the exercise's files (`/work` in a sandbox) and
write nothing outside `/tmp` besides what the toolchain itself keeps beside the sources
(cargo's `Cargo.lock`).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

from benchmarks.polyglot import scan
from benchmarks.polyglot.exercise import Exercise
from benchmarks.testids import unittest_ids
from sandbox.image_polyglot import GO_CACHE_SEED, JS_MODULES

JAVA_CP = ":".join(
    f"/usr/share/java/{jar}.jar"
    for jar in ("junit-platform-console-standalone", "assertj-core", "com.android.json")
)
JAVA_FAST = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"  # a short run: quick start-up wins
JEST_CONFIG = {
    "testEnvironment": "node",
    # The exercise's own babel config and package.json are the agent's files: grading
    # names the transform and its preset itself, from the image.
    "transform": {
        "\\.[jt]sx?$": [
            f"{JS_MODULES}/babel-jest",
            {
                "configFile": False,
                "babelrc": False,
                "presets": [f"{JS_MODULES}/@exercism/babel-preset-javascript"],
            },
        ]
    },
    "cacheDirectory": "/tmp/dgm-jest-cache",
    # jest's 5 s default per test fails sound solutions on a loaded machine (worker-thread
    # exercises); the grading's own time limit still bounds the whole run.
    "testTimeout": 60_000,
    "watchman": False,
}


@dataclass(frozen=True)
class Plan:
    """How one exercise is graded."""

    hidden: dict[str, str]
    """Files restored over the agent's at grading: tests (skips enabled), editor and
    build files."""
    expected: tuple[str, ...]
    grade: tuple[str, ...]
    check: str
    """The visible check: the same tests, with readable output, for the agent."""
    report_format: str = ""
    report_path: str = ""
    test_dirs: tuple[str, ...] = ()
    time_limit: float = 120.0


def plan_for(ex: Exercise) -> Plan:
    return PLANNERS[ex.language](ex)


def _restored(ex: Exercise, tests: dict[str, str]) -> dict[str, str]:
    """Tests plus the editor and invalidator files, which the agent must not change."""
    out = dict(tests)
    for rel in (*ex.editor, *ex.invalidator):
        if (ex.root / rel).is_file():
            out[rel] = ex.read(rel)
    return out


def _folder(ex: Exercise, folder: str) -> dict[str, str]:
    """Every text file under the exercise's `folder` (a tests directory holds helpers and
    fixtures beside the test files the config names; all of them are the tests)."""
    root = ex.root / folder
    out = {}
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.is_file() and not path.is_symlink():
            try:
                out[path.relative_to(ex.root).as_posix()] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return out


def _sh(*lines: str) -> tuple[str, ...]:
    return ("sh", "-c", "\n".join(lines))


# -- python ------------------------------------------------------------------------------------
def python(ex: Exercise) -> Plan:
    tests = {rel: ex.read(rel) for rel in ex.test}
    modules = [PurePosixPath(f).with_suffix("").as_posix().replace("/", ".") for f in ex.test]
    command = ("python3", "-m", "unittest", *modules)
    return Plan(
        hidden=tests,
        expected=unittest_ids(tests),
        grade=command,
        check=shlex.join(command),
        time_limit=60.0,
    )


# -- go ----------------------------------------------------------------------------------------
def go(ex: Exercise) -> Plan:
    tests = {rel: ex.read(rel) for rel in ex.test}
    hidden = _restored(ex, tests)
    ids = [i for rel, text in hidden.items() if rel.endswith("_test.go") for i in scan.go_ids(text)]
    # The image's compiled standard library, copied to the writable cache once a sandbox.
    warm = f'[ -d "$GOCACHE" ] || cp -r {GO_CACHE_SEED} "$GOCACHE"'
    return Plan(
        hidden=hidden,
        expected=tuple(dict.fromkeys(ids)),
        grade=_sh(f"{warm}; exec go test -json -count=1 ."),
        check=f"{warm}; go test -count=1 .",
        report_format="go-test-json",
    )


# -- rust --------------------------------------------------------------------------------------
RUST_IGNORE = re.compile(r"^[ \t]*#\[ignore(?:\s*=\s*\"[^\"]*\")?\][ \t]*\r?\n", re.M)


def rust(ex: Exercise) -> Plan:
    tests = {**_folder(ex, "tests"), **{rel: ex.read(rel) for rel in ex.test}}
    tests = {rel: RUST_IGNORE.sub("", text) if rel.endswith(".rs") else text
             for rel, text in tests.items()}  # fmt: skip
    # Each top-level `tests/*.rs` is a test binary cargo runs; files below are its helpers.
    targets = [rel for rel in tests if re.fullmatch(r"tests/[^/]+\.rs", rel)]
    ids = [i for rel in targets for i in scan.rust_ids(rel, tests[rel])]
    selected = " ".join(f"--test {shlex.quote(PurePosixPath(t).stem)}" for t in targets)
    # --all-features: tests behind a crate feature (`advanced`, `io`) run too, as on the
    # track's own CI.
    command = (
        f"cargo test --offline --all-features --no-fail-fast --target-dir /tmp/dgm-target "
        f"{selected} -- --include-ignored"
    )
    return Plan(
        hidden=_restored(ex, tests),
        expected=tuple(dict.fromkeys(ids)),
        # cargo names each test binary's source on stderr: the report needs it inline.
        grade=_sh(f"{command} 2>&1"),
        check=command,
        report_format="cargo-test",
        test_dirs=("tests",),
        time_limit=240.0,
    )


# -- c++ ---------------------------------------------------------------------------------------
def cpp(ex: Exercise) -> Plan:
    tests = {rel: ex.read(rel) for rel in ex.test}
    support = {
        path.relative_to(ex.root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted((ex.root / "test").glob("*"))
        if path.is_file()
    } if (ex.root / "test").is_dir() else {}  # fmt: skip
    hidden = _restored(ex, {**support, **tests})
    ids = [i for text in tests.values() for i in scan.cpp_ids(text)]
    sources = [*ex.test, *(s for s in ex.solution if s.endswith(".cpp"))]
    sources += [rel for rel in support if rel.endswith(".cpp")]
    cmake = ex.root / "CMakeLists.txt"
    boost = cmake.is_file() and "date_time" in cmake.read_text(encoding="utf-8", errors="replace")
    # The flags of the exercises' CMakeLists.txt (C++17, warnings as errors, all tests on).
    compile_ = (
        "g++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -DEXERCISM_RUN_ALL_TESTS -I. "
        f"-o /tmp/dgm-tests {' '.join(map(shlex.quote, sources))}"
        + (" -lboost_date_time" if boost else "")
    )
    return Plan(
        hidden=hidden,
        expected=tuple(dict.fromkeys(ids)),
        grade=_sh(f"{compile_} && exec /tmp/dgm-tests -r xml -o /tmp/report.xml"),
        check=f"{compile_} && /tmp/dgm-tests",
        report_format="catch2-xml",
        report_path="/tmp/report.xml",
        test_dirs=("test",) if support else (),
        time_limit=240.0,
    )


# -- java --------------------------------------------------------------------------------------
JAVA_DISABLED = re.compile(r"^[ \t]*@Disabled(?:\s*\([^)\n]*\))?[ \t]*\r?\n", re.M)


def java(ex: Exercise) -> Plan:
    tests = {**_folder(ex, "src/test/java"), **{rel: ex.read(rel) for rel in ex.test}}
    tests = {rel: JAVA_DISABLED.sub("", text) for rel, text in tests.items()}
    ids = [i for rel, text in tests.items() if rel.endswith(".java")
           for i in scan.java_ids(rel, text)]  # fmt: skip
    classes = sorted({i.rsplit(".", 1)[0] for i in ids})
    select = " ".join(f"--select-class={shlex.quote(c)}" for c in classes)
    compile_ = (
        "rm -rf /tmp/dgm-classes && mkdir -p /tmp/dgm-classes && "
        f"javac -J{JAVA_FAST.replace(' ', ' -J')} -nowarn -encoding UTF-8 -d /tmp/dgm-classes "
        f"-cp {JAVA_CP} $(find src/main/java src/test/java -name '*.java')"
    )
    run = (
        f"java {JAVA_FAST} -cp /tmp/dgm-classes:{JAVA_CP} "
        "org.junit.platform.console.ConsoleLauncher --disable-banner --disable-ansi-colors "
        f"--details=tree {select}"
    )
    return Plan(
        hidden=_restored(ex, tests),
        expected=tuple(dict.fromkeys(ids)),
        grade=_sh(f"{compile_} && exec {run} --reports-dir=/tmp/dgm-junit"),
        check=f"{compile_} && {run}",
        report_format="junit-xml",
        report_path="/tmp/dgm-junit/TEST-junit-jupiter.xml",
        test_dirs=("src/test/java",),
        time_limit=180.0,
    )


# -- javascript --------------------------------------------------------------------------------
JS_SKIPPED = re.compile(r"(?<![\w$.])x(test|it|describe)(\s*\()")


def javascript(ex: Exercise) -> Plan:
    tests = {rel: JS_SKIPPED.sub(r"\1\2", ex.read(rel)) for rel in ex.test}
    ids = [i for text in tests.values() for i in scan.js_ids(text)]
    jest = (
        f"node {JS_MODULES}/jest/bin/jest.js --ci --runInBand "
        f"--config={shlex.quote(json.dumps(JEST_CONFIG))} "
        f"--runTestsByPath {' '.join(map(shlex.quote, ex.test))}"
    )
    return Plan(
        hidden=_restored(ex, tests),
        expected=tuple(dict.fromkeys(ids)),
        grade=_sh(f"exec {jest} --json --outputFile=/tmp/report.json"),
        check=jest,
        report_format="jest-json",
        report_path="/tmp/report.json",
        time_limit=180.0,
    )


PLANNERS = {
    "cpp": cpp,
    "go": go,
    "java": java,
    "javascript": javascript,
    "python": python,
    "rust": rust,
}
LANGUAGES = tuple(PLANNERS)
