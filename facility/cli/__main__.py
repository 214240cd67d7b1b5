"""``python -m facility.cli``: the same as the ``facility`` command."""

from facility.cli import main

main()
