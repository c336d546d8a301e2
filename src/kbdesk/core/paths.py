"""Where kbdesk keeps per-user data (platformdirs defaults, overridden by --data-dir or KBDESK_HOME)
and where it looks for chat models."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from kbdesk import APP_NAME
from kbdesk.core.errors import InvalidSetting

ENV_HOME = "KBDESK_HOME"
DEFAULT_COLLECTION = "default"
_COLLECTION_NAME = re.compile(r"^[\w][\w .\-]{0,63}$", re.UNICODE)
MODELS = "models"


def install_models_dir() -> Path | None:
    """The installed program's own read-only models folder (beside the frozen executable, where
    the model package puts the default model); None when running from a source checkout."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent / MODELS
    return None


def user_models_dir() -> Path:
    """The per-user models folder, whatever data folder is in use (`make run` assembles the
    default model here), so a fresh --data-dir never hides it."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / MODELS


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
        """This data folder's models folder: where models a user adds are recorded."""
        return self.data_dir / MODELS

    @property
    def model_dirs(self) -> tuple[Path, ...]:
        """Where chat models are looked for, the first match winning: the installation, the
        per-user folder, this data folder (last, because it is the one written to)."""
        found: list[Path] = []
        for folder in (install_models_dir(), user_models_dir(), self.models_dir):
            if folder is not None and folder not in found:
                found.append(folder)
        return tuple(found)

    @property
    def adapters_dir(self) -> Path:
        return self.data_dir / "adapters"

    @property
    def shared_files_dir(self) -> Path:
        """Copies of shared collections' original files, fetched when a citation opens them."""
        return self.data_dir / "shared-files"

    @property
    def shared_staging_dir(self) -> Path:
        """Files added to a shared collection, read on this PC and waiting to be uploaded."""
        return self.data_dir / "shared-staging"

    def collection_dir(self, name: str) -> Path:
        return self.collections_dir / validate_collection_name(name)

    def collection_names(self) -> list[str]:
        if not self.collections_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.collections_dir.iterdir()
            # hidden: a collection being deleted (store.fileio.trash_path)
            if not p.name.startswith(".") and (p / "manifest.json").is_file()
        )


def describe_model_dirs(paths: AppPaths) -> dict[Path, str]:
    """Each models folder with what it is, in search order (for `kbdesk models`)."""
    roles = {}
    for folder in paths.model_dirs:
        if folder == install_models_dir():
            roles[folder] = "this installation, read-only"
        elif folder == paths.models_dir:
            roles[folder] = "this data folder; models you add are recorded here"
        else:
            roles[folder] = "per-user"
        if not folder.is_dir():
            roles[folder] += "; not there yet"
    return roles


def validate_collection_name(name: str) -> str:
    name = name.strip()
    if not _COLLECTION_NAME.match(name) or name in {".", ".."}:
        raise InvalidSetting(
            f"'{name}' is not a valid collection name.",
            hint="Use up to 64 letters, digits, spaces, dots, dashes or underscores.",
        )
    return name
