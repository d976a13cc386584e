"""The abuse battery, part 3: copy-out. A workspace's links, fifos and odd names, and tar
streams a subverted container could send, never land outside the destination on the host
and never copy a host file's content in.
"""

from __future__ import annotations

import io
import os
import tarfile
import textwrap
import uuid
from pathlib import Path

import pytest

from sandbox import Sandbox, SandboxConfig
from sandbox.transfer import unpack


def _tree(root: Path) -> dict[str, str]:
    """Every entry under root: relative path -> kind (and link target for links)."""
    kinds = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            kinds[rel] = f"link:{os.readlink(path)}"
        elif path.is_file():
            kinds[rel] = "file"
        elif path.is_dir():
            kinds[rel] = "dir"
        else:
            kinds[rel] = "other"
    return kinds


@pytest.mark.docker
def test_links_at_copy_out_stay_inside_destination(image: str, run_id: str, tmp_path: Path) -> None:
    secret = f"host-secret-{uuid.uuid4().hex}"
    marker = tmp_path / "marker.txt"
    marker.write_text(secret)
    host_passwd = Path("/etc/passwd").read_text()
    dest = tmp_path / "dest"
    dest.mkdir()
    siblings_before = sorted(p.name for p in tmp_path.iterdir())
    up = "../" * 12
    script = f"""
        set -e
        cd /work
        echo ordinary > ordinary.txt
        ln -s /etc/passwd passwd-link
        ln -s {marker} marker-abs
        ln -s {up}{str(marker).lstrip("/")} marker-rel
        ln -s {up}etc/passwd passwd-rel
        ln -s / root-dir
        ln -s {tmp_path} host-dir
        ln -s ordinary.txt inside-link
        ln ordinary.txt hard-inside
        ln /tmp/x hard-tmp 2>/dev/null || true
        mkfifo fifo
        mkdir -p sub
        ln -s ../../.. sub/up
        echo dots > ...
        echo dots > ..hidden
        echo done
    """
    labels = {"dgm.run": run_id}
    with Sandbox(SandboxConfig(memory_mb=128, pids=64, command_timeout=5), labels=labels) as sb:
        res = sb.run(["bash", "-c", textwrap.dedent(script)], timeout=20)
        assert res.exit_code == 0, res.stderr
        sb.copy_out("/work", dest)
    assert marker.read_text() == secret
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings_before
    assert (dest / "ordinary.txt").read_text() == "ordinary\n"
    assert (dest / "...").read_text() == "dots\n"
    tree = _tree(dest)
    real_dest = dest.resolve()
    for rel, kind in tree.items():
        path = dest / rel
        assert kind != "other", f"{rel} is a device or fifo on the host"
        if path.is_symlink():
            target = (path.parent / os.readlink(path)).resolve()
            assert target.is_relative_to(real_dest), f"{rel} points outside: {target}"
        if path.is_file() and not path.is_symlink():
            text = path.read_text(errors="replace")
            assert secret not in text, f"{rel} holds the host marker"
            assert text != host_passwd, f"{rel} holds the host /etc/passwd"
    # A hard link inside the workspace is an ordinary file: it is kept, as a copy.
    assert (dest / "hard-inside").read_text() == "ordinary\n"


def _crafted_tar(members: list[tuple[str, str, bytes | str]]) -> bytes:
    """A tar stream as a hostile container could hand to copy_out: (name, kind, payload)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = payload if isinstance(payload, bytes) else payload.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
                "chardev": tarfile.CHRTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = str(payload)
            tar.addfile(info)
    return buf.getvalue()


def test_crafted_tar_names_cannot_escape_destination(tmp_path: Path) -> None:
    # copy_out's tar stream comes from inside the container, so it is untrusted: feed the
    # unpacker the escapes a subverted stream could hold.
    dest = tmp_path / "dest"
    outside = tmp_path / "outside"
    outside.mkdir()
    host_passwd = Path("/etc/passwd").read_bytes()
    data = _crafted_tar(
        [
            ("../outside/dotdot.txt", "file", "pwned"),
            ("./a/../../outside/mid.txt", "file", "pwned"),
            (f"{outside}/absolute.txt", "file", "pwned"),
            ("evil", "symlink", str(outside)),
            ("evil/through-link.txt", "file", "pwned"),
            ("passwd", "hardlink", "/etc/passwd"),
            ("passwd-rel", "hardlink", "../../../../../../etc/passwd"),
            ("null", "chardev", ""),
            ("pipe", "fifo", ""),
            ("ok/fine.txt", "file", "fine"),
        ]
    )
    unpack(data, dest)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "outside"]
    assert (dest / "ok" / "fine.txt").read_text() == "fine"
    for path in dest.rglob("*"):
        assert path.is_dir() or (path.is_file() and not path.is_symlink()), path
        if path.is_file():
            assert path.read_bytes() != host_passwd
    assert Path("/etc/passwd").read_bytes() == host_passwd


def test_existing_link_in_destination_is_not_followed(tmp_path: Path) -> None:
    # dest already holds a link to a sibling whose name shares dest's prefix ("dest2"):
    # a member under that link must not land in the sibling.
    dest = tmp_path / "dest"
    dest.mkdir()
    sibling = tmp_path / "dest2"
    sibling.mkdir()
    (sibling / "secret.txt").write_text("sibling secret")
    (dest / "lnk").symlink_to(sibling)
    members = [
        ("lnk/x.txt", "file", "pwned"),
        ("copy.txt", "hardlink", "lnk/secret.txt"),  # a copy of a file reached through it
        ("lnk", "file", "now a file"),
    ]
    unpack(_crafted_tar(members), dest)
    assert [p.name for p in sibling.iterdir()] == ["secret.txt"]
    assert not (dest / "copy.txt").exists(), "a host file outside dest was copied in"
