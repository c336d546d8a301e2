"""Entry point of the installed program (PyInstaller): the `kbdesk` command, whose no-argument
form opens the window."""

import sys

from kbdesk.cli import main

if __name__ == "__main__":
    sys.exit(main())
