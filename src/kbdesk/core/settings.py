"""The user's preferences (model, adapter, embedder, passages, temperature, OCR, locking, layout),
as JSON.

Stored in the per-user config folder. A damaged or partly invalid file never stops the app:
bad values fall back to their defaults and the reason is kept in `problems` for the log.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from kbdesk.core.embed import DEFAULT_EMBEDDER
from kbdesk.core.errors import InvalidSetting
from kbdesk.core.paths import DEFAULT_COLLECTION
from kbdesk.core.search.answer_context import PAGES_READ
from kbdesk.core.store.fileio import atomic_write_text

SETTINGS_FILE = "settings.json"
# Written into the file so a later release can tell which shape it reads. A file without one is
# version 1; fields are read one by one, so a file from a newer release keeps what this one knows.
SETTINGS_VERSION = 1


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # model name or .gguf path; None: the default model
    adapter: str | None = None
    embedder: str = DEFAULT_EMBEDDER  # for new collections; a collection keeps its own
    passages: int = PAGES_READ
    temperature: float = 0.1
    # The model chooses the sentences that answer before answering (evidence_select.py). Off
    # by default: with the built-in models it answered worse (bench/RESULTS.md, "Evidence first").
    evidence_first: bool = False
    ocr: bool = True
    # Encrypted collections lock (their key forgotten) after this long without use; 0: never.
    lock_after_minutes: int = 15
    collection: str = DEFAULT_COLLECTION  # the one open last
    # The practice's shared server (a libpq address, never with its password: that is kept in
    # the system key store); "" where there is none.
    shared_server: str = ""
    watched: dict[str, list[str]] = field(default_factory=dict)  # collection -> folders
    # imports cut short by closing the window, resumed at the next start: collection -> paths
    pending: dict[str, list[str]] = field(default_factory=dict)
    layout: dict[str, str] = field(default_factory=dict)  # opaque window state from the GUI

    def validated(self) -> Settings:
        check_passages(self.passages)
        check_temperature(self.temperature)
        check_lock_after(self.lock_after_minutes)
        return self


def check_passages(passages: int) -> None:
    if not 1 <= int(passages) <= 30:
        raise InvalidSetting(f"Passages per answer must be 1-30 (got {passages}).")


def check_temperature(temperature: float) -> None:
    if not 0.0 <= float(temperature) <= 2.0:
        raise InvalidSetting(f"Temperature must be between 0 and 2 (got {temperature}).")


def check_lock_after(minutes: int) -> None:
    if not 0 <= int(minutes) <= MAX_LOCK_AFTER:
        raise InvalidSetting(
            f"Locking after idle time must be 0-{MAX_LOCK_AFTER} minutes (got {minutes})."
        )


MAX_LOCK_AFTER = 24 * 60
_DEFAULTS = Settings()
_TYPES = {
    "model": (str, type(None)),
    "adapter": (str, type(None)),
    "embedder": (str,),
    "passages": (int,),
    "temperature": (int, float),
    "evidence_first": (bool,),
    "ocr": (bool,),
    "lock_after_minutes": (int,),
    "collection": (str,),
    "shared_server": (str,),
    "watched": (dict,),
    "pending": (dict,),
    "layout": (dict,),
}


_NUMBERS = ("passages", "temperature", "lock_after_minutes")


def _sane(name: str, value) -> bool:
    if isinstance(value, bool) and name in _NUMBERS:
        return False
    if not isinstance(value, _TYPES[name]):
        return False
    if name in ("watched", "pending"):
        return isinstance(value, dict) and all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value.values()
        )
    if name == "layout":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return True


class SettingsStore:
    """Loads and saves Settings atomically in `config_dir`."""

    def __init__(self, config_dir: str | os.PathLike):
        self.path = Path(config_dir) / SETTINGS_FILE
        self.problems: list[str] = []

    def load(self) -> Settings:
        self.problems = []
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _DEFAULTS
        except (OSError, ValueError) as exc:
            self.problems.append(f"{self.path} could not be read ({exc}); defaults are used.")
            return _DEFAULTS
        if not isinstance(raw, dict):
            self.problems.append(f"{self.path} is not a settings object; defaults are used.")
            return _DEFAULTS
        values = {}
        for f in fields(Settings):
            if f.name not in raw:
                continue
            if _sane(f.name, raw[f.name]):
                values[f.name] = raw[f.name]
            else:
                self.problems.append(f"setting '{f.name}' has a bad value; the default is used.")
        settings = replace(_DEFAULTS, **values)
        try:
            return settings.validated()
        except InvalidSetting as exc:
            self.problems.append(f"{exc} Defaults are used for {', '.join(_NUMBERS)}.")
            return replace(settings, **{n: getattr(_DEFAULTS, n) for n in _NUMBERS})

    def save(self, settings: Settings) -> None:
        settings.validated()
        data = {"version": SETTINGS_VERSION} | asdict(settings)
        atomic_write_text(self.path, json.dumps(data, ensure_ascii=False, indent=2))
