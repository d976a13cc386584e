"""Turn source text into tokens."""

from lexer.tokens import NAME, NUMBER, OP, OPERATORS, STRING, Token

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


class LexError(ValueError):
    pass


def _read_string(text, start):
    """Read a double-quoted string starting at `start`; return (value, end)."""
    out, i = [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise LexError(f"unterminated string at {start}")


def tokenize(text):
    tokens, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit():
            j = i
            while j < len(text) and (text[j].isdigit() or text[j] == "."):
                j += 1
            raw = text[i:j]
            tokens.append(Token(NUMBER, float(raw) if "." in raw else int(raw), i))
            i = j
        elif ch.isalpha() or ch == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token(NAME, text[i:j], i))
            i = j
        elif ch == '"':
            value, end = _read_string(text, i)
            tokens.append(Token(STRING, value, i))
            i = end
        else:
            op = next((o for o in OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise LexError(f"unexpected {ch!r} at {i}")
            tokens.append(Token(OP, op, i))
            i += len(op)
    return tokens
