"""``python -m aligninfo``: the command line of :mod:`aligninfo.book.cli`."""

import sys

from aligninfo.book.cli import main

if __name__ == "__main__":
    sys.exit(main())
