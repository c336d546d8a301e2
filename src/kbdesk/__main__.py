"""`python -m kbdesk` runs the command line."""

import sys

from kbdesk.cli import main

sys.exit(main())
