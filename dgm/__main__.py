"""`python -m dgm` is the `dgm` command."""

from dgm.cli import main

main()
