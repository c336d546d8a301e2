"""Where kbdesk keeps per-user data: platformdirs defaults, overridden by --data-dir or KBDESK_HOME."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from kbdesk import APP_NAME
from kbdesk.core.errors import InvalidSetting

ENV_HOME = "KBDESK_HOME"
DEFAULT_COLLECTION = "default"
_COLLECTION_NAME = re.compile(r"^[\w][\w .\-]{0,63}$", re.UNICODE)


@dataclass(frozen=True)
class AppPaths:
    """All per-user locations. Computed when asked for, never at import time."""

    data_dir: Path
    config_dir: Path
    log_dir: Path

    @classmethod
    def resolve(cls, data_dir: str | os.PathLike | None = None) -> AppPaths:
        chosen = data_dir or os.environ.get(ENV_HOME)
        if chosen:
            root = Path(chosen).expanduser().resolve()
            return cls(data_dir=root, config_dir=root / "config", log_dir=root / "logs")
        import platformdirs

        return cls(
            data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        )

    @property
    def collections_dir(self) -> Path:
        return self.data_dir / "collections"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def adapters_dir(self) -> Path:
        return self.data_dir / "adapters"

    def collection_dir(self, name: str) -> Path:
        return self.collections_dir / validate_collection_name(name)

    def collection_names(self) -> list[str]:
        if not self.collections_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.collections_dir.iterdir() if (p / "manifest.json").is_file()
        )


def validate_collection_name(name: str) -> str:
    name = name.strip()
    if not _COLLECTION_NAME.match(name) or name in {".", ".."}:
        raise InvalidSetting(
            f"'{name}' is not a valid collection name.",
            hint="Use up to 64 letters, digits, spaces, dots, dashes or underscores.",
        )
    return name
