"""Entry point of the optional training package's program (PyInstaller): runs one adapter
training job, as `python -m kbdesk.core.tune.pipeline JOB_DIR` does from a checkout."""

import sys

from kbdesk.core.tune.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
