"""``python -m spinecds.batch INPUT --out DIR ...``: the batch command as a script.

``spark-submit`` needs a file to run; give it this one (see docs/batch.md).
"""

from __future__ import annotations

import sys

from spinecds.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["batch", *sys.argv[1:]]))
