# The untrusted side of a `call` grading (standard library only; plain.py prepended): loads
# the agent's solution and answers the trusted side's calls of its entry point with plain
# data. Nothing here is believed: the trusted side decodes what arrives into fresh builtin
# values and runs the hidden check itself.
import _sitebuiltins
import builtins
import os
import sys

# `-S` skips site, which is what defines exit() and quit(); solutions may call them.
builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")

REQ, RESP = int(sys.argv[1]), int(sys.argv[2])
SOLUTION, ENTRY = sys.argv[3], sys.argv[4]
sys.argv = [SOLUTION]
# The workspace comes after the standard library: nothing in it can shadow a stdlib module.
sys.path.append(os.getcwd())


def _lies(value, budget):
    """True when `value` (or something inside a builtin container) equals an unrelated
    object: a comparison that lies."""
    for item in leaves(value, budget):
        if type(item) not in (int, float, complex, str, bytes, bool, type(None)):
            try:
                if item == Unrelated():
                    return True
            except Exception:  # an honest value may refuse the comparison; it is not plain
                return False
    return False


def _answer(value):
    if _lies(value, 100_000):
        return {"lie": type(value).__name__}
    try:
        return {"ok": to_plain(value)}
    except (TypeError, ValueError, RecursionError):
        return {"unsupported": type(value).__name__}


def main():
    namespace = {"__name__": "solution", "__file__": os.path.abspath(SOLUTION)}
    try:
        with open(SOLUTION, encoding="utf-8") as handle:
            source = handle.read()
        exec(compile(source, SOLUTION, "exec"), namespace)
        function = namespace.get(ENTRY)
        if not callable(function):
            raise NameError(f"{SOLUTION} defines no `{ENTRY}`")
    except BaseException as exc:  # SystemExit too: the trusted side judges it
        frame_send(RESP, {"import_error": f"{type(exc).__name__}({exc})"[:2000]})
        return
    frame_send(RESP, {"ready": True})
    while True:
        request = frame_recv(REQ, 64 * 1024 * 1024)
        if request is None:
            return
        try:
            answer = _answer(function(*request["args"], **request["kwargs"]))
        except BaseException as exc:
            code = exc.code if isinstance(exc, SystemExit) else None
            answer = {"raise": [type(exc).__name__, str(code if code is not None else exc)[:500]]}
        try:
            frame_send(RESP, answer)
        except ValueError:  # marshal refused something inside an "ok": not plain after all
            frame_send(RESP, {"unsupported": "value marshal cannot carry"})


main()
