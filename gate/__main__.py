"""`python -m gate` runs the gate CLI."""

from gate.cli import main

main()
