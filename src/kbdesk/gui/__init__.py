"""The desktop window (PySide6): panes, dialogs and the job runner over the core."""
