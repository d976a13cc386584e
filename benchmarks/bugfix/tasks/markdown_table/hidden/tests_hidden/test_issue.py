import unittest

from mdtable import render


def cells(line):
    # Split a row on unescaped pipes only.
    out, cur, i = [], "", 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):
            cur += line[i:i + 2]
            i += 2
            continue
        if line[i] == "|":
            out.append(cur)
            cur = ""
        else:
            cur += line[i]
        i += 1
    return [c.strip() for c in out[1:]]


class EscapeTests(unittest.TestCase):
    def test_pipe_is_escaped(self):
        out = render(["cmd", "note"], [["a | b", "ok"]])
        row = out.splitlines()[2]
        self.assertEqual(cells(row), ["a \\| b", "ok"])

    def test_newlines_stay_in_one_row(self):
        out = render(["x"], [["line one\nline two"], ["a\r\nb"]])
        self.assertEqual(len(out.splitlines()), 4)
        self.assertIn("line one<br>line two", out)
        self.assertIn("a<br>b", out)


if __name__ == "__main__":
    unittest.main()
