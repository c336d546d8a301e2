"""LoRA training settings with their defaults and limits, validated before a job starts."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from kbdesk.core.errors import InvalidSetting

# Every attention and MLP projection; never the embeddings or the output head (they are tied to
# the vocabulary and would make the adapter as large as the model).
ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
EPOCHS = 2  # when the number of steps is left to kbdesk


@dataclass(frozen=True)
class TuneSettings:
    rank: int = 16
    alpha: int = 32  # the update is scaled by alpha / rank
    dropout: float = 0.05
    modules: tuple[str, ...] = ALL_PROJECTIONS
    learning_rate: float = 2e-4
    steps: int = 200
    batch: int = 4  # examples per step (accumulated one at a time: memory stays flat)
    max_tokens: int = 1536  # longer training conversations are left out
    save_every: int = 10
    seed: int = 0
    threads: int = 0  # 0: torch's default (all cores)

    def __post_init__(self):
        limits = {
            "rank": (1, 256),
            "alpha": (1, 1024),
            "dropout": (0.0, 0.5),
            "learning_rate": (1e-6, 1e-2),
            "steps": (1, 100_000),
            "batch": (1, 64),
            "max_tokens": (64, 8192),
            "save_every": (1, 10_000),
            "threads": (0, 256),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not low <= value <= high:
                raise InvalidSetting(
                    f"The training setting {name} must be {low}-{high} (got {value})."
                )
        unknown = set(self.modules) - set(ALL_PROJECTIONS)
        if not self.modules or unknown:
            raise InvalidSetting(
                f"Adapted modules must be among {', '.join(ALL_PROJECTIONS)}"
                + (f" (unknown: {', '.join(sorted(unknown))})." if unknown else ".")
            )

    def to_json(self) -> dict:
        data = asdict(self)
        data["modules"] = list(self.modules)
        return data

    @classmethod
    def from_json(cls, data: dict) -> TuneSettings:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "modules" in values:
            values["modules"] = tuple(values["modules"])
        return cls(**values)


def auto_steps(conversations: int, batch: int) -> int:
    """Training steps when the user leaves them to kbdesk: EPOCHS passes, 10-2000 steps."""
    return max(10, min(2000, math.ceil(EPOCHS * conversations / batch)))
