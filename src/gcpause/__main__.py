"""``python -m gcpause``: the command line (see ``gcpause.cli``)."""

from __future__ import annotations

import sys

from gcpause.cli import main

if __name__ == "__main__":
    sys.exit(main())
