"""Tests of the agent's own tools; they travel with every variant of the agent.

Run from the agent's directory: python3 -m unittest discover -s tests -t .
"""

from __future__ import annotations

import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import BashSession, Editor, ToolError, clip  # noqa: E402


class ClipTest(unittest.TestCase):
    def test_short_text_is_kept(self):
        self.assertEqual(clip("abc", 10), "abc")

    def test_long_text_keeps_head_and_tail(self):
        text = "H" * 50 + "M" * 1000 + "T" * 50
        out = clip(text, 100)
        self.assertTrue(out.startswith("H" * 50))
        self.assertTrue(out.endswith("T" * 50))
        self.assertIn("clipped", out)


class BashTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.bash = BashSession(Path(self.dir.name), timeout=5)

    def tearDown(self):
        self.bash.close()
        self.dir.cleanup()

    def test_output_and_exit_code(self):
        out = self.bash.run("echo hello; false")
        self.assertIn("hello", out)
        self.assertIn("[exit code: 1]", out)

    def test_state_persists(self):
        self.bash.run("mkdir sub && cd sub && export X=42")
        out = self.bash.run("pwd; echo $X")
        self.assertIn("sub", out)
        self.assertIn("42", out)

    def test_stderr_is_captured(self):
        self.assertIn("oops", self.bash.run("echo oops >&2"))

    def test_timeout_restarts_shell(self):
        self.bash.timeout = 0.5
        self.assertIn("timed out", self.bash.run("sleep 5"))
        self.bash.timeout = 5
        self.assertIn("[exit code: 0]", self.bash.run("true"))

    def test_long_output_is_bounded(self):
        out = self.bash.run("seq 1 100000")
        self.assertLess(len(out), 12_000)
        self.assertIn("100000", out)

    def test_command_cannot_read_the_session_input(self):
        out = self.bash.run("cat; echo after")
        self.assertIn("after", out)

    def test_exit_is_survived(self):
        self.bash.run("exit 3")
        self.assertIn("ok", self.bash.run("echo ok"))


class EditorTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.root = Path(self.dir.name)
        self.editor = Editor(self.root)

    def tearDown(self):
        self.dir.cleanup()

    def call(self, **args):
        return self.editor.run(args)

    def test_create_and_view_with_line_numbers(self):
        self.call(command="create", path="a/b.py", file_text="x = 1\ny = 2\nz = 3\n")
        out = self.call(command="view", path="a/b.py")
        self.assertIn("     1\tx = 1", out)
        self.assertIn("     3\tz = 3", out)

    def test_view_range(self):
        self.call(command="create", path="f.txt", file_text="a\nb\nc\nd\n")
        out = self.call(command="view", path="f.txt", view_range=[2, 3])
        self.assertEqual(out, "     2\tb\n     3\tc")
        self.assertIn("d", self.call(command="view", path="f.txt", view_range=[3, -1]))
        with self.assertRaises(ToolError):
            self.call(command="view", path="f.txt", view_range=[9, 10])

    def test_view_directory(self):
        self.call(command="create", path="pkg/m.py", file_text="")
        out = self.call(command="view", path=".")
        self.assertIn("pkg/", out)
        self.assertIn("pkg/m.py", out)

    def test_str_replace_needs_a_unique_match(self):
        self.call(command="create", path="f.py", file_text="a = 1\na = 1\nb = 2\n")
        with self.assertRaises(ToolError):
            self.call(command="str_replace", path="f.py", old_str="a = 1", new_str="a = 3")
        with self.assertRaises(ToolError):
            self.call(command="str_replace", path="f.py", old_str="zzz", new_str="")
        self.call(command="str_replace", path="f.py", old_str="b = 2", new_str="b = 5")
        self.assertEqual((self.root / "f.py").read_text(), "a = 1\na = 1\nb = 5\n")

    def test_insert(self):
        self.call(command="create", path="f.py", file_text="one\nthree")
        self.call(command="insert", path="f.py", insert_line=1, new_str="two")
        self.call(command="insert", path="f.py", insert_line=0, new_str="zero")
        self.assertEqual((self.root / "f.py").read_text(), "zero\none\ntwo\nthree\n")
        with self.assertRaises(ToolError):
            self.call(command="insert", path="f.py", insert_line=99, new_str="x")

    def test_paths_are_confined_to_the_workspace(self):
        for path in ("../escape.txt", "/etc/passwd", "a/../../x"):
            with self.assertRaises(ToolError):
                self.call(command="view", path=path)
        (self.root / "link").symlink_to("/etc")
        with self.assertRaises(ToolError):
            self.call(command="view", path="link/passwd")

    def test_unknown_command_and_missing_file(self):
        with self.assertRaises(ToolError):
            self.call(command="delete", path="f.py")
        with self.assertRaises(ToolError):
            self.call(command="view", path="missing.py")


if __name__ == "__main__":
    unittest.main()
