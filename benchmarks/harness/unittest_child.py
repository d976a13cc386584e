# The guarded test process of a `unittest` grading (standard library only). Python tests must
# run in the same process as the agent's code, so this process cannot be made fully
# trustworthy; it makes forging hard and leaves evidence of every attempt it sees:
# - the hidden tests are compiled here from sources read from stdin before any agent code
#   runs (nothing on disk the agent could rewrite), and served by a finder placed first;
# - the workspace comes after the standard library on sys.path (no shadowing `unittest`);
# - an audit hook (which cannot be removed) blocks, and reports, patching classes of the
#   standard library or of the tests, tracing, gc and frame-walking of other threads,
#   ctypes, and opening the report pipe, /proc memory or the hidden tests;
# - the tests' `==`, `!=`, `in` and the assert methods probe untrusted values for lying
#   comparisons;
# - builtins, the standard library's functions and classes, and the test modules' globals are
#   compared with a snapshot after the imports and after every test;
# - every report line is signed (HMAC) with a key that arrives on stdin; lines the agent
#   writes to the pipe itself do not verify, and a process that ends before its signed
#   `done` line is an early exit.
import _sitebuiltins
import ast
import builtins
import ctypes
import hashlib
import hmac
import importlib.machinery
import marshal
import os
import struct
import sys
import threading
import traceback
import types
import unittest

IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE
FRAME = struct.Struct(">I")
WATCHED_ALWAYS = {
    "sys.settrace": "set a trace function",
    "sys.setprofile": "set a profile function",
    "sys._current_frames": "read other threads' frames",
    "gc.get_objects": "walked the garbage collector's objects",
    "gc.get_referrers": "walked the garbage collector's referrers",
    "gc.get_referents": "walked the garbage collector's referents",
    "code.__new__": "built a code object",
    "sys.addaudithook": "added an audit hook",
}
# Class attributes the standard library itself rebinds at run time (caches and registries).
MUTABLE_CLASS_ATTRS = frozenset({"_abc_impl", "__abstractmethods__", "_abc_registry", "__doc__"})
AUDITED = frozenset(WATCHED_ALWAYS) | {
    "object.__setattr__",
    "object.__delattr__",
    "open",
    "os.kill",
    "os.killpg",
    "compile",
}


def main():
    # `-S` skips site, which is what defines exit() and quit(); the agent's code may call them.
    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    report_fd = int(sys.argv[1])
    job = marshal.loads(sys.stdin.buffer.read())
    key = job.pop("key")
    workdir = os.path.realpath(job["workdir"])
    sys.stdin = open(os.devnull)  # noqa: SIM115
    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no ptrace, no /proc/self/mem
    except (OSError, AttributeError):
        pass
    # With -S only the standard library (and its lib-dynload) is on sys.path; frozen modules
    # (importlib, os, ...) name their code "<frozen NAME>".
    stdlib = os.path.dirname(os.path.realpath(os.__file__)) + "/"
    trusted_dirs = (stdlib, HIDDEN + "/", "<frozen ")
    lock = threading.Lock()
    found = []  # evidence; the hook and the checks append, the main loop reports

    def emit(event):  # a frame: length, HMAC-SHA256 of the body, the marshalled body
        body = marshal.dumps(event)
        mac = hmac.new(key, body, hashlib.sha256).digest()
        view = memoryview(FRAME.pack(len(mac) + len(body)) + mac + body)
        with lock:
            while view:
                view = view[os.write(report_fd, view) :]

    def flush_evidence(start=[0]):  # noqa: B006 (a private counter)
        while start[0] < len(found):
            emit({"t": "evidence", "text": found[start[0]][:300]})
            start[0] += 1

    # -- the hidden tests, compiled now and served from memory -----------------------------
    codes, packages, code_ids = {}, set(), set()

    for rel, source in job["hidden"].items():
        if not rel.endswith(".py"):
            continue
        name = rel[:-3].replace("/", ".")
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
            packages.add(name)
        tree = _Rewrite().visit(ast.parse(source, filename=f"{HIDDEN}/{rel}"))
        codes[name] = compile(ast.fix_missing_locations(tree), f"{HIDDEN}/{rel}", "exec")
        _collect_codes(codes[name], code_ids)
        parts = name.split(".")
        packages.update(".".join(parts[:i]) for i in range(1, len(parts)))

    def cmp(a, op, b):
        if op in ("Eq", "NotEq"):
            _probe(a, b, untrusted, found)
            _probe(b, a, untrusted, found)
            return (a == b) if op == "Eq" else (a != b)
        _probe(a, None, untrusted, found)
        return (a in b) if op == "In" else (a not in b)

    class Finder:  # a meta path finder and loader of the hidden test modules
        def find_spec(self, name, path=None, target=None):
            if name not in codes and name not in packages:
                return None
            origin = f"{HIDDEN}/{name.replace('.', '/')}.py"
            spec = importlib.machinery.ModuleSpec(
                name, self, origin=origin, is_package=name in packages
            )
            if name in packages:
                spec.submodule_search_locations = []
            return spec

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            module.__dict__["__dgm_cmp__"] = cmp
            if module.__name__ in codes:
                exec(codes[module.__name__], module.__dict__)

    sys.meta_path.insert(0, Finder())
    sys.path.append(workdir)  # after the standard library: nothing there shadows it

    # -- what may not change ---------------------------------------------------------------
    snapshot_modules = dict(sys.modules)
    harness_codes = set()
    _collect_codes(sys._getframe(1).f_code, harness_codes)  # this script, as `python -c` ran it

    def foreign(cls):
        """True unless `cls` is the class its trusted module names (stdlib or hidden tests)."""
        try:
            module = sys.modules.get(cls.__module__)
            spec = getattr(module, "__spec__", None)
            origin = str(getattr(module, "__file__", None) or getattr(spec, "origin", "") or "")
            if module is None or (
                snapshot_modules.get(cls.__module__) is not module
                and not origin.startswith(trusted_dirs)
            ):
                return True
            target = module
            for part in cls.__qualname__.split("."):
                if part == "<locals>":
                    return not origin.startswith(HIDDEN)
                target = getattr(target, part, None)
            return target is not cls
        except Exception:
            return True

    def untrusted(value):
        return type(value) not in PLAIN and foreign(type(value))

    _guard_asserts(untrusted, found)
    callables = (type, types.FunctionType, types.BuiltinFunctionType)
    snapshot_builtins = dict(vars(builtins))
    snapshot_attrs, snapshot_classes = {}, {}
    for name, mod in snapshot_modules.items():
        if name == "sys" or not isinstance(mod, types.ModuleType):
            continue
        attrs = {k: v for k, v in vars(mod).items() if isinstance(v, callables)}
        snapshot_attrs[name] = attrs
        for value in attrs.values():  # the classes a module defines (setattr on a class is
            if (  # not audited); types in C are immutable already
                isinstance(value, type)
                and value.__module__ == name
                and not value.__flags__ & IMMUTABLE_TYPE
            ):
                snapshot_classes[value] = dict(vars(value))
    test_globals = {}

    flagged = set()

    def flag(what, when):
        if what not in flagged:  # each change once, with when it was first seen
            flagged.add(what)
            found.append(f"{what} ({when})")

    def check_integrity(when):
        for name, value in snapshot_builtins.items():
            if vars(builtins).get(name) is not value and name != "_":
                flag(f"builtins.{name} was replaced", when)
        for name, attrs in snapshot_attrs.items():
            module = sys.modules.get(name)
            if module is not snapshot_modules[name]:
                flag(f"the module {name} was replaced in sys.modules", when)
                continue
            current = vars(module)
            for attr, value in attrs.items():
                if current.get(attr) is not value:
                    flag(f"{name}.{attr} was replaced", when)
        for cls, saved in snapshot_classes.items():
            current = vars(cls)
            for attr, value in saved.items():
                if current.get(attr) is not value and attr not in MUTABLE_CLASS_ATTRS:
                    flag(f"{cls.__module__}.{cls.__qualname__}.{attr} was changed", when)
        for name, saved in test_globals.items():
            current = vars(sys.modules.get(name) or types.ModuleType(name))
            for attr, value in saved.items():
                if current.get(attr) is not value:
                    flag(f"the hidden test module's {name}.{attr} was changed", when)

    # -- the audit hook --------------------------------------------------------------------
    local = threading.local()
    report_inode = os.fstat(report_fd).st_ino
    # Where the hidden tests live in the workspace (not there while grading: writing them
    # can only be meant to change what runs).
    guarded = tuple(os.path.join(workdir, d) + "/" for d in job["test_dirs"]) + tuple(
        os.path.join(workdir, rel) for rel in job["hidden"]
    )

    def agent_on_stack():
        frame = sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            if id(code) not in harness_codes and not code.co_filename.startswith(trusted_dirs):
                return True
            frame = frame.f_back
        return False

    def hook(event, args):
        if event not in AUDITED and not event.startswith("ctypes.") or getattr(local, "busy", 0):
            return
        local.busy = 1
        try:
            reason = WATCHED_ALWAYS.get(event)
            reason = reason or _judge(event, args, report_fd, report_inode, guarded)
            if reason and agent_on_stack():
                found.append(f"the agent's code {reason}")
                raise PermissionError(f"not allowed while grading: {reason}")
        finally:
            local.busy = 0

    sys.addaudithook(hook)

    # -- load, run, report -----------------------------------------------------------------
    expected = list(job["expected"])
    modules = sorted({test_id.rsplit(".", 2)[0] for test_id in expected})
    suite = unittest.TestSuite()
    for name in modules:
        try:
            module = __import__(name, fromlist=["*"])
            if type(getattr(getattr(module, "__spec__", None), "loader", None)) is not Finder:
                found.append(f"the hidden test module {name} was not loaded from the hidden tests")
                continue
            suite.addTests(unittest.defaultTestLoader.loadTestsFromModule(module))
            test_globals[name] = dict(vars(module))
        except BaseException as exc:  # an import of the agent's code failed (or exited)
            if isinstance(exc, SystemExit):
                found.append(f"SystemExit({exc.code}) raised while importing the tests")
            text = f"importing {name} failed:\n{traceback.format_exc(limit=6)}"
            emit({"t": "note", "text": text})
    check_integrity("while importing")
    flush_evidence()
    for test in _flatten(suite):
        function = getattr(type(test), getattr(test, "_testMethodName", ""), None)
        if not _is_hidden_test(function, code_ids, stdlib):
            found.append(f"the test {test.id()} is not the hidden test's code")
    flush_evidence()
    result = _Result(emit)
    check_integrity("before the tests")  # then after each: the state before the next one
    flush_evidence()
    for test in _flatten(suite):
        try:
            test(result)
        except BaseException as exc:  # SystemExit or KeyboardInterrupt out of a test
            if isinstance(exc, SystemExit):
                found.append(f"SystemExit({exc.code}) escaped the test {test.id()}")
            result.record(test, "error")
        result.flush(test)
        check_integrity(f"after {test.id()}")
        flush_evidence()
    emit({"t": "done", "count": result.count})


def _collect_codes(code, into):
    into.add(id(code))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _collect_codes(const, into)


def _is_hidden_test(function, code_ids, stdlib):
    """The test method is the hidden tests' code, or standard-library wrappers of it (such
    as `unittest.mock.patch` decorators) around it."""
    for _ in range(16):
        code = getattr(function, "__code__", None)
        if id(code) in code_ids:
            return True
        if code is None or not code.co_filename.startswith(stdlib):
            return False
        function = getattr(function, "__wrapped__", None)
    return False


def _flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flatten(item)
        else:
            yield item


class _Result(unittest.TestResult):
    """Per-test statuses; a test's line goes out once it has finished."""

    def __init__(self, emit):
        super().__init__()
        self._emit, self._status, self.count = emit, {}, 0

    def record(self, test, status):
        worst = ("pass", "skip", "fail", "error")
        current = self._status.get(test.id(), "pass")
        self._status[test.id()] = max(current, status, key=worst.index)

    def flush(self, test):
        status = self._status.pop(test.id(), "error")
        self.count += 1
        self._emit({"t": "result", "id": test.id(), "status": status})

    def note(self, kind, test_id, err, test):
        text = self._exc_info_to_string(err, test)[-3000:]
        self._emit({"t": "note", "text": f"{kind}: {test_id}\n{text}"})

    def addSuccess(self, test):
        self.record(test, "pass")

    def addFailure(self, test, err):
        self.record(test, "fail")
        self.note("FAIL", test.id(), err, test)

    def addError(self, test, err):
        self.record(test, "error")
        self.note("ERROR", test.id(), err, test)

    def addSkip(self, test, reason):
        self.record(test, "skip")

    def addExpectedFailure(self, test, err):
        self.record(test, "pass")

    def addUnexpectedSuccess(self, test):
        self.record(test, "fail")

    def addSubTest(self, test, subtest, err):
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self.record(test, "fail" if failed else "error")
            self.note("FAIL", subtest.id(), err, test)


main()
