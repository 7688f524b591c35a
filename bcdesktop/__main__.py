"""``python -m bcdesktop``: the same entry point as the ``bcdesktop`` command."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # must come first in a frozen executable
    from bcdesktop.cli import main

    sys.exit(main())
