"""`python -m explain.cli`."""

from explain.cli import main

main()
