"""The copy-out packer: a tar of container directories on stdout (standard library only;
passed to `python3 -I -S -c` inside the sandbox, like the runner).

GNU tar stops with an error on what an agent can leave behind (a `chmod 0` file or
directory, a file that changes while it is read, paths longer than the host accepts), and
then nothing is copied. This packer never fails on content: it stores regular files,
directories and symbolic links (the host refuses links), skips everything else, and reports
each skipped entry. A file is stored with the size it had when opened, padded or cut to that
size, so a file that changes under it still makes a well-formed stream. It writes the tar
format itself (ustar, with pax records for long names): importing `tarfile` alone would
cost more than packing a typical workspace.

Arguments: the limits max_path, max_depth and max_entries, then pairs of an absolute
directory and the name its contents get in the stream ("" for the top level). It imports no
`json` either (with `re` and `enum` it is most of a typical copy's time): the report is
written by hand.
Exit 0 with the tar on stdout and, as the last line of stderr, a JSON report
{"skipped": [[name, why, lost], ...], "more": n}; `lost` is true for content that exists
but could not be copied (unreadable, path too long...), false for what is never copied
(sockets, fifos, devices). A non-zero exit only when a source is not a directory.
"""

import os
import stat
import sys

BLOCK = 512
CHUNK = 1 << 16
REPORTED = 20  # skipped entries named in the report; the rest are only counted
NAME_CHARS = 100
MAX_OCTAL = 8**11 - 1  # the largest size or time a 12-byte ustar field holds
REGULAR, DIRECTORY, SYMLINK, PAX = b"0", b"5", b"2", b"x"


def octal(value, width):
    return b"%0*o\0" % (width - 1, value)


def header(name, kind, mode=0o644, size=0, mtime=0, linkname=b""):
    """One ustar header block, preceded by a pax block when a field does not fit."""
    records = b""
    if len(name) > 100:
        records += pax_record(b"path", name)
    if len(linkname) > 100:
        records += pax_record(b"linkpath", linkname)
    if size > MAX_OCTAL:
        records += pax_record(b"size", b"%d" % size)
    pre = b""
    if records:
        pre = header(b"././@PaxHeader", PAX, size=len(records)) + padded(records)
    block = b"".join(
        (
            name[:100].ljust(100, b"\0"),
            octal(mode, 8),
            octal(0, 8),  # uid
            octal(0, 8),  # gid
            octal(min(size, MAX_OCTAL), 12),
            octal(min(max(mtime, 0), MAX_OCTAL), 12),
            b" " * 8,  # the checksum counts its own field as spaces
            kind,
            linkname[:100].ljust(100, b"\0"),
            b"ustar\x0000",
            b"\0" * (32 + 32 + 8 + 8 + 155 + 12),
        )
    )
    checksum = b"%06o\0 " % sum(block)
    return pre + block[:148] + checksum + block[156:]


def pax_record(key, value):
    body = b" " + key + b"=" + value + b"\n"
    size = len(body) + 1
    while len(b"%d" % size) + len(body) != size:  # the length counts its own digits
        size = len(b"%d" % size) + len(body)
    return b"%d" % size + body


def padded(data):
    return data + b"\0" * (-len(data) % BLOCK)


class Packer:
    def __init__(self, out, max_path, max_depth, max_entries):
        self.out = out
        self.max_path, self.max_depth, self.entries_left = max_path, max_depth, max_entries
        self.skipped = []
        self.more = 0

    def skip(self, name, why, lost=True):
        # Names escape to at most 12 characters each: the report stays far below the
        # 32 KB of stderr the host keeps.
        if len(self.skipped) < REPORTED:
            self.skipped.append([name[:NAME_CHARS], why, lost])
        else:
            self.more += 1

    def too_long(self, name):
        if len(os.fsencode(name)) > self.max_path:
            return "path too long"
        if name.count("/") + 1 > self.max_depth:
            return "nested too deep"
        return None

    def add_dir(self, path, name, st):
        """Add one directory and everything under it (iteratively: depth is the agent's)."""
        stack = [(path, name, st)]
        while stack:
            path, name, st = stack.pop()
            if name:
                self.out.write(header(os.fsencode(name), DIRECTORY, 0o755, 0, int(st.st_mtime)))
            try:
                with os.scandir(path) as it:
                    children = sorted(it, key=lambda e: e.name, reverse=True)
            except OSError as exc:
                self.skip(name or ".", f"unreadable directory: {exc.strerror}")
                continue
            for entry in children:
                child = f"{name}/{entry.name}" if name else entry.name
                self.add_entry(entry.path, child, stack)

    def add_entry(self, path, name, stack):
        if self.entries_left <= 0:
            self.skip(name, "too many entries")
            return
        why = self.too_long(name)
        if why:
            self.skip(name, why)
            return
        try:
            st = os.lstat(path)
        except OSError as exc:
            self.skip(name, f"vanished or unreadable: {exc.strerror}")
            return
        self.entries_left -= 1
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            stack.append((path, name, st))
        elif stat.S_ISREG(mode):
            self.add_file(path, name)
        elif stat.S_ISLNK(mode):
            try:
                target = os.fsencode(os.readlink(path))
            except OSError as exc:
                self.skip(name, f"unreadable link: {exc.strerror}")
                return
            mtime = int(st.st_mtime)
            self.out.write(header(os.fsencode(name), SYMLINK, 0o777, 0, mtime, target))
        else:
            kind = "socket" if stat.S_ISSOCK(mode) else "fifo" if stat.S_ISFIFO(mode) else "device"
            self.skip(name, f"special file ({kind})", lost=False)

    def add_file(self, path, name):
        # O_NONBLOCK: a fifo swapped in after lstat must not block the copy.
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            self.skip(name, f"unreadable: {exc.strerror}")
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                self.skip(name, "changed while copied")
                return
            os.set_blocking(fd, True)
            mode = 0o755 if st.st_mode & 0o111 else 0o644
            size = st.st_size
            self.out.write(header(os.fsencode(name), REGULAR, mode, size, int(st.st_mtime)))
            if self.copy(fd, size):
                self.skip(name, "changed while copied (shrank)")
        finally:
            os.close(fd)

    def copy(self, fd, size):
        """Exactly `size` bytes of the file and the block padding; True when it was short
        (the rest is zeros: the stream stays well-formed)."""
        left, short = size, False
        while left > 0:
            try:
                chunk = b"" if short else os.read(fd, min(CHUNK, left))
            except OSError:
                chunk = b""
            if not chunk:
                short = True
                chunk = bytes(min(CHUNK, left))
            self.out.write(chunk)
            left -= len(chunk)
        self.out.write(b"\0" * (-size % BLOCK))
        return short


def json_string(text):
    """`text` as a JSON string of ASCII (lone surrogates of undecodable names included)."""
    return '"' + "".join(c if " " <= c <= "~" and c not in '"\\' else escape(c) for c in text) + '"'


def escape(char):
    code = ord(char)
    if code > 0xFFFF:  # a UTF-16 surrogate pair, as JSON spells it
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def main(argv):
    limits = [int(v) for v in argv[:3]]
    # no strict=: images with Python 3.9 and older run this too
    pairs = list(zip(argv[3::2], argv[4::2]))  # noqa: B905
    for src, _ in pairs:
        try:
            st = os.stat(src)
        except OSError as exc:
            sys.exit(f"no such directory: {src} ({exc.strerror})")
        if not stat.S_ISDIR(st.st_mode):
            sys.exit(f"not a directory: {src}")
    out = sys.stdout.buffer
    packer = Packer(out, *limits)
    for src, name in pairs:
        packer.add_dir(src, name, os.stat(src))
    out.write(b"\0" * (2 * BLOCK))  # the end of the archive
    out.flush()
    items = (
        f"[{json_string(name)}, {json_string(why)}, {'true' if lost else 'false'}]"
        for name, why, lost in packer.skipped
    )
    sys.stderr.write(f'\n{{"skipped": [{", ".join(items)}], "more": {packer.more}}}\n')


if __name__ == "__main__":
    main(sys.argv[1:])
