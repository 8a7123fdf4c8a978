"""`python -m brandgate` runs the command-line interface."""

from brandgate.cli.main import main

main()
