"""Test ids read from test sources on the host, without running anything.

Each language's ids take the form its report parser (`benchmarks/reports.py`) produces, so the
grader can require every one of them reported passed. The scanners blank out comments and
string contents first (keeping offsets), so a brace or a keyword inside a string or a comment
never counts.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

JS_SEP = " > "  # between describe titles and the test title (see reports.parse_jest_json)


def blank(text: str, *, js: bool = False, rust: bool = False) -> tuple[str, list[tuple]]:
    """`text` with comments and string contents replaced by spaces (same length), and the
    string literals found: (start, end, value or None when not a plain literal)."""
    out = list(text)
    strings: list[tuple] = []
    i, n = 0, len(text)
    last = ""  # the last significant character, to tell a JS regex from a division
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
            continue
        if c == "/" and nxt == "*":
            j = _block_comment_end(text, i, nested=rust)
            out[i:j] = [ch if ch == "\n" else " " for ch in text[i:j]]
            i = j
            continue
        if rust and c == "r" and re.match(r'r#*"', text[i:]) and not _ident_char(text, i - 1):
            hashes = len(re.match(r"r(#*)", text[i:]).group(1))
            close = '"' + "#" * hashes
            start = i + 2 + hashes
            j = text.find(close, start)
            j = n if j < 0 else j
            strings.append((i, j + len(close), text[start:j]))
            out[start:j] = [ch if ch == "\n" else " " for ch in text[start:j]]
            i = j + len(close)
            last = '"'
            continue
        if c in "\"'`" and not (rust and c == "'" and not _rust_char(text, i)):
            j, value = _string_end(text, i, c)
            strings.append((i, j, value))
            out[i + 1 : j - 1] = [ch if ch == "\n" else " " for ch in text[i + 1 : j - 1]]
            i = j
            last = '"'
            continue
        if js and c == "/" and (last in "(,=:[!&|?{};" or last == ""):
            j = _regex_end(text, i)
            out[i + 1 : j - 1] = " " * (j - i - 2) if j - i >= 2 else []
            i = j
            last = "/"
            continue
        if not c.isspace():
            last = c
        i += 1
    return "".join(out), strings


def _ident_char(text: str, i: int) -> bool:
    return i >= 0 and (text[i].isalnum() or text[i] == "_")


def _rust_char(text: str, i: int) -> bool:
    """A Rust char literal ('a', '\\n', '\\u{1F600}') rather than a lifetime ('a)."""
    return bool(re.match(r"'(\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'", text[i:]))


def _block_comment_end(text: str, i: int, nested: bool) -> int:
    depth, j = 0, i
    while j < len(text):
        if text.startswith("/*", j):
            depth = depth + 1 if nested or depth == 0 else depth
            j += 2
        elif text.startswith("*/", j):
            depth -= 1
            j += 2
            if depth <= 0:
                return j
        else:
            j += 1
    return len(text)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"', "`": "`"}


def _string_end(text: str, i: int, quote: str) -> tuple[int, str | None]:
    """End offset (after the closing quote) and the literal's value; None when it holds a
    `${...}` substitution or unknown escapes (a name only a run could tell)."""
    j, value, plain = i + 1, [], True
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text):
            esc = text[j + 1]
            if esc in _ESCAPES:
                value.append(_ESCAPES[esc])
            elif esc == "\n":
                pass
            else:
                plain = False
            j += 2
            continue
        if c == quote:
            return j + 1, "".join(value) if plain else None
        if quote == "`" and text.startswith("${", j):
            plain = False
        if c == "\n" and quote != "`":
            return j, None  # unterminated: not a literal we can trust
        value.append(c)
        j += 1
    return len(text), None


def _regex_end(text: str, i: int) -> int:
    j, in_class = i + 1, False
    while j < len(text) and text[j] != "\n":
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "/" and not in_class:
            return j + 1
        j += 1
    return i + 1  # not a regex after all: treat the slash as a division


# -- languages -------------------------------------------------------------------------------
GO_TEST = re.compile(r"^func\s+(Test\w*)\s*\(\s*\w+\s+\*testing\.T\s*\)", re.M)
GO_EXAMPLE = re.compile(r"^func\s+(Example\w*)\s*\(\s*\)", re.M)


def go_ids(text: str) -> list[str]:
    """Top-level `TestXxx(t *testing.T)` functions, and examples with an output comment."""
    code, _ = blank(text)
    ids = [m.group(1) for m in GO_TEST.finditer(code) if _go_name(m.group(1), "Test")]
    for m in GO_EXAMPLE.finditer(code):
        body_end = code.find("\n}", m.end())
        if re.search(r"//\s*(Unordered output|Output):", text[m.end() : body_end]):
            ids.append(m.group(1))
    return ids


def _go_name(name: str, prefix: str) -> bool:
    rest = name[len(prefix) :]
    return not rest or not rest[0].islower()


CPP_TEST = re.compile(r"\bTEST_CASE(?:_METHOD)?\s*\(\s*(?:\w+\s*,\s*)?\"")
CPP_DEFINED = "EXERCISM_RUN_ALL_TESTS"  # the one macro grading defines (as CMakeLists does)
CPP_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b(.*)$", re.M)


def cpp_ids(text: str) -> list[str]:
    """Catch2 `TEST_CASE("name", ...)` names that a build with only EXERCISM_RUN_ALL_TESTS
    defined compiles (so a `#if defined(EXERCISM_INCLUDE_BENCHMARK)` benchmark is left out)."""
    code, strings = blank(text)
    starts = {s: value for s, _, value in strings}
    # (offset, active) at every directive: whether code after it is compiled.
    marks: list[tuple[int, bool]] = []
    stack: list[bool] = []
    for m in CPP_DIRECTIVE.finditer(code):
        kind, rest = m.group(1), m.group(2)
        if kind in ("if", "ifdef"):
            stack.append(CPP_DEFINED in rest or (kind == "if" and rest.strip() == "1"))
        elif kind == "ifndef":
            stack.append(CPP_DEFINED not in rest)
        elif kind == "else" and stack:
            stack[-1] = not stack[-1]
        elif kind == "elif" and stack:
            stack[-1] = not stack[-1] and CPP_DEFINED in rest
        elif kind == "endif" and stack:
            stack.pop()
        marks.append((m.start(), all(stack)))
    ids = []
    for m in CPP_TEST.finditer(code):
        active = next((a for at, a in reversed(marks) if at < m.start()), True)
        value = starts.get(m.end() - 1)
        if value is not None and active:
            ids.append(value)
    return ids


JAVA_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)\s*;", re.M)
JAVA_TEST = re.compile(
    r"@Test\b(?:\s*@\w+(?:\s*\([^)]*\))?)*\s*(?:(?:public|protected|private|static|final)\s+)*"
    r"void\s+(\w+)\s*\("
)


def java_ids(rel: str, text: str) -> list[str]:
    """`package.Class.method` for `@Test` methods; the class is the file's name."""
    code, _ = blank(text)
    package = JAVA_PACKAGE.search(code)
    cls = PurePosixPath(rel).stem
    prefix = f"{package.group(1)}.{cls}" if package else cls
    return [f"{prefix}.{m.group(1)}" for m in JAVA_TEST.finditer(code)]


RUST_ITEM = re.compile(
    r"(?P<open>\{)|(?P<close>\})|\bmod\s+(?P<mod>\w+)\s*\{|"
    r"#\s*\[\s*(?P<test>test|tokio::test)\s*\]|\bfn\s+(?P<fn>\w+)"
)


def rust_ids(rel: str, text: str) -> list[str]:
    """`<test file stem>::<module path>::<fn>` for `#[test]` functions of an integration
    test file (cargo runs each `tests/*.rs` as its own binary, named by the stem)."""
    code, _ = blank(text, rust=True)
    stem = PurePosixPath(rel).stem
    stack: list[str | None] = []  # one entry per open brace: a module name or None
    pending_test = False
    ids = []
    for m in RUST_ITEM.finditer(code):
        if m.group("mod"):
            stack.append(m.group("mod"))
        elif m.group("open"):
            stack.append(None)
        elif m.group("close"):
            if stack:
                stack.pop()
        elif m.group("test"):
            pending_test = True
        elif m.group("fn") and pending_test:
            mods = [s for s in stack if s is not None]
            ids.append("::".join([stem, *mods, m.group("fn")]))
            pending_test = False
    return ids


JS_CALL = re.compile(
    r"(?<![\w$.])(describe|x?describe|f?describe|test|xtest|ftest|it|xit|fit)\s*\("
)


def js_ids(text: str) -> list[str]:
    """`describe > ... > test` titles of jest tests whose titles are plain literals
    (`test.skip`, `test.each` and computed titles are left out: their names need a run)."""
    code, strings = blank(text, js=True)
    starts = {s: value for s, _, value in strings}
    # Offsets of each parenthesis' partner, from the blanked code.
    partner: dict[int, int] = {}
    opens: list[int] = []
    for i, c in enumerate(code):
        if c == "(":
            opens.append(i)
        elif c == ")" and opens:
            partner[opens.pop()] = i
    ids: list[str] = []
    scopes: list[tuple[int, str]] = []  # (offset where the describe call closes, title)
    for m in JS_CALL.finditer(code):
        while scopes and scopes[-1][0] < m.start():
            scopes.pop()
        paren = m.end() - 1
        arg = re.compile(r"\s*").match(code, m.end()).end()
        title = starts.get(arg)
        if title is None:
            continue
        if m.group(1).endswith("describe"):
            scopes.append((partner.get(paren, len(code)), title))
        else:
            ids.append(JS_SEP.join([*(t for _, t in scopes), title]))
    return ids
