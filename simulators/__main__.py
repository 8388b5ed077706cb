"""`python -m simulators`: the simulators' command line (see `simulators.cli`)."""

from simulators.cli import main

main()
