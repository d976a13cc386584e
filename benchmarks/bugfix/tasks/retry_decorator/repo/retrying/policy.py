"""How long to wait before each retry."""


class Backoff:
    def __init__(self, base=0.1, factor=2.0, cap=5.0):
        self.base, self.factor, self.cap = base, factor, cap

    def delays(self, retries):
        return [min(self.cap, self.base * self.factor**i) for i in range(retries)]
