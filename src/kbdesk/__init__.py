"""kbdesk: an offline desktop knowledge-base assistant."""

APP_NAME = "kbdesk"
__version__ = "0.1.0"
