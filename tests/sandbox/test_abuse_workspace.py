"""The abuse battery, part 4: what an agent leaves in its workspace. Unreadable files and
directories, fifos, sockets, trees deeper than the host takes, files that change while they
are read, daemons and fork bombs left running: copy-out never raises on them, names what it
skipped and why, and `kill_all` leaves nothing of the agent running before the copy.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from sandbox import LimitExceeded, SandboxConfig, transfer
from sandbox.transfer import MAX_DEPTH, MAX_PATH, CopyReport, packer_report, unpack
from tests.sandbox.helpers import open_sandbox, py

pytestmark = pytest.mark.docker

CFG = SandboxConfig(memory_mb=256, pids=64, command_timeout=30, session_timeout=300)
# Every process but PID 1 (the runner) and the one asking.
OTHERS = (
    "import os, json; me = os.getpid(); "
    "print(json.dumps([p for p in map(int, filter(str.isdigit, os.listdir('/proc'))) "
    "if p not in (1, me)]))"
)


def _whys(report: CopyReport) -> dict[str, tuple[str, bool]]:
    return {s.name: (s.why, s.lost) for s in report.skipped}


def _pids(sb) -> list[int]:
    res = sb.run(["python3", "-c", OTHERS])
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def test_unreadable_and_special_entries_are_named_not_raised(
    image: str, run_id: str, tmp_path: Path
) -> None:
    script = """
        set -e
        cd /work
        echo ok > ok.txt
        echo secret > secret.txt && chmod 0 secret.txt
        mkdir -p closed/inner && echo x > closed/inner/f && chmod 0 closed
        printf 'n' > "$(printf 'new\\nline')" && chmod 0 "$(printf 'new\\nline')"
        mkfifo pipe
        python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('/work/sock')"
        ln -s /etc/passwd link
    """
    with open_sandbox(CFG, run_id) as sb:
        res = sb.run(["bash", "-c", script])
        assert res.exit_code == 0, res.stderr
        report = sb.copy_out("/work", tmp_path / "dest")
    whys = _whys(report)
    assert whys["secret.txt"] == ("unreadable: Permission denied", True)
    assert whys["closed"] == ("unreadable directory: Permission denied", True)
    assert whys["new\nline"] == ("unreadable: Permission denied", True)
    assert whys["pipe"] == ("special file (fifo)", False)
    assert whys["sock"] == ("special file (socket)", False)
    assert whys["link"] == ("link", False)
    assert report.incomplete and sorted(report) == sorted(whys)
    assert (tmp_path / "dest" / "ok.txt").read_text() == "ok\n"
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == ["closed", "ok.txt"]
    # One line, names quoted: a name cannot add lines to a reason.
    assert "\n" not in report.describe() and "'new\\nline'" in report.describe()


def test_an_unreadable_workspace_root_is_reported(image: str, run_id: str, tmp_path: Path):
    with open_sandbox(CFG, run_id) as sb:
        sb.run(["sh", "-c", "echo a > /work/a; chmod 0 /work; echo b > /out/b"])
        report = sb.copy_out_many({"/work": tmp_path / "w", "/out": tmp_path / "o"})
    assert _whys(report) == {"work": ("unreadable directory: Permission denied", True)}
    assert report.under("work").incomplete and not report.under("out").incomplete
    assert list((tmp_path / "w").iterdir()) == []
    assert (tmp_path / "o" / "b").read_text() == "b\n"


def test_trees_too_deep_or_too_long_for_the_host_are_reported(
    image: str, run_id: str, tmp_path: Path
) -> None:
    # 430 levels: /work/d.../d... is longer than PATH_MAX; the copy used to fail on the host
    # with "File name too long".
    deep = """
        import os
        os.chdir("/work")
        os.makedirs("ok/sub")
        open("ok/sub/f.txt", "w").write("fine")
        os.mkdir("deep"); os.chdir("deep")
        for _ in range(430):
            os.mkdir("d" * 10); os.chdir("d" * 10)
        open("leaf.txt", "w").write("deep")
        os.chdir("/work")
        path = "long"
        for _ in range(6):
            path += "/" + "n" * 250
        os.makedirs(path)
        open(path + "/leaf.txt", "w").write("long")
    """
    dest = tmp_path / "dest"
    with open_sandbox(CFG, run_id) as sb:
        res = sb.run(py(deep))
        assert res.exit_code == 0, res.stderr
        report = sb.copy_out("/work", dest)
    whys = _whys(report)
    too_deep = [n for n, (why, lost) in whys.items() if why == "nested too deep" and lost]
    too_long = [n for n, (why, lost) in whys.items() if why == "path too long" and lost]
    assert len(too_deep) == 1 and too_deep[0].startswith("deep/dddddddddd/")
    assert len(too_long) == 1 and too_long[0].startswith("long/nnn")
    assert (dest / "ok" / "sub" / "f.txt").read_text() == "fine"
    for path in dest.rglob("*"):
        rel = path.relative_to(dest)
        assert len(str(rel)) <= MAX_PATH and len(rel.parts) <= MAX_DEPTH


def test_kill_all_leaves_only_the_runner(image: str, run_id: str, tmp_path: Path) -> None:
    # Daemons in their own sessions, a double fork and a fork bomb at the pids limit, all
    # left behind by a command that exits 0.
    script = """
        import os, subprocess, time
        quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
        subprocess.Popen(["sh", "-c", "while :; do date +%s%N > /work/churn.txt; done"], **quiet)
        if os.fork() == 0:
            if os.fork() == 0:
                os.setsid()
                while True:
                    with open("/work/other.txt", "a") as f:
                        f.write("x")
            os._exit(0)
        if os.fork() == 0:
            os.setsid()
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        time.sleep(1)
    """
    with open_sandbox(CFG, run_id) as sb:
        res = sb.run(py(script), timeout=20)
        assert res.exit_code == 0, res.stderr
        assert sb.kill_all() is True
        assert _pids(sb) == []
        first = sb.copy_out("/work", tmp_path / "a")
        second = sb.copy_out("/work", tmp_path / "b")
    assert not first.incomplete and not second.incomplete
    for name in ("churn.txt", "other.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_files_changing_during_copy_make_a_well_formed_copy(
    image: str, run_id: str, tmp_path: Path
) -> None:
    # Without kill_all (a caller that forgot): files growing, shrinking and being replaced
    # under the packer still give a stream the host unpacks, never an exception.
    churn = """
        import os, random
        os.chdir("/work")
        while True:
            for i in range(20):
                with open(f"f{i}", "wb") as f:
                    f.write(b"x" * random.randrange(0, 200_000))
                if i % 5 == 0:
                    os.replace(f"f{i}", f"g{i}")
                    os.mkdir(f"f{i}")
                    os.rmdir(f"f{i}")
    """
    with open_sandbox(CFG, run_id) as sb:
        code = py(churn)[2]
        sb.run(["sh", "-c", 'python3 -c "$0" >/dev/null 2>&1 & sleep 0.5', code])
        for n in range(5):
            report = sb.copy_out("/work", tmp_path / f"copy{n}")
            for item in report.skipped:
                assert item.why.startswith(("vanished", "changed", "unreadable")), item
        sb.kill_all()
    for path in tmp_path.rglob("*"):
        assert path.is_dir() or (path.is_file() and not path.is_symlink())


def test_too_many_entries_are_reported(
    image: str, run_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "MAX_ENTRIES", 50)
    with open_sandbox(CFG, run_id) as sb:
        sb.run(["sh", "-c", "cd /work && for i in $(seq 120); do echo $i > f$i; done"])
        report = sb.copy_out("/work", tmp_path / "dest")
    copied = list((tmp_path / "dest").iterdir())
    assert len(copied) == 50
    assert report.incomplete
    named = [s for s in report.skipped if s.why == "too many entries"]
    assert len(named) + report.uncounted == 70
    assert "and" in report.describe() and "more" in report.describe()


def test_a_workspace_over_the_transfer_limit_raises_limit_exceeded(
    image: str, run_id: str, tmp_path: Path
) -> None:
    # A sparse file costs the agent nothing and would stream gigabytes of zeros.
    small = CFG.model_copy(update={"transfer_limit_mb": 4})
    with open_sandbox(small, run_id) as sb:
        sb.run(["sh", "-c", "truncate -s 50G /work/sparse && echo a > /work/a"])
        with pytest.raises(LimitExceeded):
            sb.copy_out("/work", tmp_path / "dest")
        assert sb.run(["true"]).exit_code == 0  # the sandbox is still usable


def _tar(members: list[tuple[str, str, bytes | str]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = payload if isinstance(payload, bytes) else payload.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.LNKTYPE
                info.linkname = str(payload)
                tar.addfile(info)
    return buf.getvalue()


def test_a_crafted_stream_with_long_or_deep_names_is_reported(tmp_path: Path) -> None:
    # The stream is untrusted: the host checks the same bounds as the packer.
    deep = "/".join(["d"] * (MAX_DEPTH + 5)) + "/f"
    long = "x" * 200 + "/" + "y" * 250 + "/" + "z" * 250 + "/" + "w" * 250 + "/" + "v" * 250
    report = unpack(_tar([(deep, "file", "a"), (long, "file", "b"), ("ok", "file", "c")]), tmp_path)
    assert _whys(report) == {deep: ("path too long", True), long: ("path too long", True)}
    assert sorted(os.listdir(tmp_path)) == ["ok"]


def test_hard_links_cannot_amplify_past_the_limit(tmp_path: Path) -> None:
    # Each hard link is unpacked as a copy: 100 links to 1 MB would write 100 MB.
    members: list[tuple[str, str, bytes | str]] = [("big", "file", b"x" * 2**20)]
    members += [(f"link{i}", "link", "big") for i in range(100)]
    with pytest.raises(LimitExceeded):
        unpack(_tar(members), tmp_path / "dest", limit=8 * 2**20)
    total = sum(p.stat().st_size for p in (tmp_path / "dest").iterdir())
    assert total <= 8 * 2**20


def test_the_packer_stream_is_a_valid_tar_with_exact_contents(
    image: str, run_id: str, tmp_path: Path
) -> None:
    # Odd but honest files: empty, block-sized, names around the ustar limit of 100 bytes,
    # a name that is not UTF-8, an executable, a time before 1970, a long link target.
    make = r"""
        import os
        os.chdir("/work")
        os.makedirs("a/b")
        files = {"empty": b"", "block": b"b" * 512, "n" * 100: b"100", "m" * 101: b"101",
                 "a/b/" + "l" * 200: b"long", "exe.sh": b"#!/bin/sh\n"}
        for name, data in files.items():
            open(name, "wb").write(data)
        open(b"\xff-not-utf8.txt", "wb").write(b"bytes")
        os.chmod("exe.sh", 0o755)
        os.utime("block", (-86400 * 365, -86400 * 365))
        os.symlink("t" * 150, "longlink")
    """
    dest = tmp_path / "dest"
    with open_sandbox(CFG, run_id) as sb:
        res = sb.run(py(make))
        assert res.exit_code == 0, res.stderr
        with sb._read([("/work", "")]) as (spool, _):
            spool.file.seek(0)
            data = spool.file.read()
        report = sb.copy_out("/work", dest)
    listing = subprocess.run(["tar", "-tvf", "-"], input=data, capture_output=True, check=True)
    names = {line.split(maxsplit=5)[5].split(b" -> ")[0] for line in listing.stdout.splitlines()}
    assert b"m" * 101 in names and b"longlink" in names and b"a/b/" + b"l" * 200 in names
    assert _whys(report) == {"longlink": ("link", False)}
    assert (dest / "empty").read_bytes() == b""
    assert (dest / "block").read_bytes() == b"b" * 512
    assert (dest / ("n" * 100)).read_bytes() == b"100"
    assert (dest / ("m" * 101)).read_bytes() == b"101"
    assert (dest / "a" / "b" / ("l" * 200)).read_bytes() == b"long"
    assert (dest / os.fsdecode(b"\xff-not-utf8.txt")).read_bytes() == b"bytes"
    assert os.access(dest / "exe.sh", os.X_OK) and not os.access(dest / "empty", os.X_OK)


def test_copy_out_of_a_large_workspace_keeps_host_memory_small(
    image: str, run_id: str, tmp_path: Path
) -> None:
    # The stream goes to disk past SPOOL_MEMORY: it used to be held whole, twice.
    size = 60 * 2**20
    with open_sandbox(CFG, run_id) as sb:
        sb.run(["sh", "-c", f"head -c {size} /dev/urandom > /work/blob"])
        tracemalloc.start()
        try:
            report = sb.copy_out("/work", tmp_path / "dest")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert not report and (tmp_path / "dest" / "blob").stat().st_size == size
    assert peak < 3 * transfer.SPOOL_MEMORY, peak


def test_an_unreadable_packer_report_counts_as_content_lost() -> None:
    # Fail closed: a copy is complete only when the packer says so.
    for stderr in ("", "Traceback (most recent call last):", '{"skipped": [["a", "b"]]}'):
        report = packer_report(stderr).under("work")
        assert report.incomplete
        assert report.describe() == "1 entry (the packer's report is unreadable)"
    assert not packer_report(
        '\n{"skipped": [["p", "special file (fifo)", false]], "more": 0}\n'
    ).incomplete
