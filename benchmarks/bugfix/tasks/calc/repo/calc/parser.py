"""Recursive descent: expr := term (('+'|'-') term)*, term := unary (('*'|'/') unary)*,
unary := '-' unary | '+' unary | atom, atom := number | '(' expr ')'."""


class ParseError(ValueError):
    pass


class Parser:
    def __init__(self, tokens):
        self.tokens, self.pos = tokens, 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", None)

    def take(self):
        token = self.peek()
        self.pos += 1
        return token

    def parse(self):
        tree = self.expr()
        if self.peek()[0] != "end":
            raise ParseError(f"unexpected {self.peek()[1]!r}")
        return tree

    def expr(self):
        node = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            node = (self.take()[1], node, self.term())
        return node

    def term(self):
        node = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            node = (self.take()[1], node, self.unary())
        return node

    def unary(self):
        return self.atom()

    def atom(self):
        kind, value = self.take()
        if kind == "num":
            return value
        if (kind, value) == ("op", "("):
            node = self.expr()
            if self.take() != ("op", ")"):
                raise ParseError("missing ')'")
            return node
        raise ParseError(f"unexpected {value!r}")
