"""Small dense matrices as lists of rows."""

from matrix.core import identity, shape, validate
from matrix.ops import add, multiply, transpose

__all__ = ["add", "identity", "multiply", "shape", "transpose", "validate"]
