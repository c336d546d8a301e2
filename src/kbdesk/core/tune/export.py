"""A PEFT LoRA state written as a GGUF LoRA adapter that llama.cpp attaches at run time.

Layout as llama.cpp's convert_lora_to_gguf.py writes it: for a base weight of numpy shape
[n_out, n_in], `lora_a` is [rank, n_in] and `lora_b` is [n_out, rank] (PEFT's own shapes), so
llama.cpp computes W x + scale * (alpha / rank) * B (A x).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.store.fileio import atomic_path

# Hugging Face module name -> llama.cpp tensor name, for the architectures whose GGUF keeps the
# Hugging Face row order (llama's GGUF permutes q/k rows, so a LoRA on them would need it too).
GGUF_NAMES = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}
SUPPORTED_ARCHITECTURES = ("qwen2",)
_PEFT_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$")


def check_architecture(arch: str, model_name: str) -> None:
    if arch not in SUPPORTED_ARCHITECTURES:
        raise InvalidSetting(
            f"Adapters can be trained for Qwen2-family models (such as the built-in ones); "
            f"{model_name} is a '{arch}' model.",
            hint="Choose a built-in answer model to train an adapter.",
        )


def gguf_tensors(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PEFT's `...layers.N.self_attn.q_proj.lora_A.weight` as `blk.N.attn_q.weight.lora_a`."""
    out = {}
    for key, value in state.items():
        match = _PEFT_KEY.search(key)
        if match is None:
            raise InvalidSetting(f"Unexpected tensor in the adapter: {key}.")
        layer, module, side = match.groups()
        if module not in GGUF_NAMES:
            raise InvalidSetting(f"No llama.cpp tensor for the adapted module '{module}'.")
        name = f"blk.{int(layer)}.{GGUF_NAMES[module]}.weight.lora_{side.lower()}"
        out[name] = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
    return out


def write_gguf_lora(
    state: Mapping[str, np.ndarray], out: str | os.PathLike, *, arch: str, alpha: float
) -> Path:
    """Writes the adapter atomically (a killed export leaves no half-written file)."""
    tensors = gguf_tensors(state)
    out = Path(out)
    with atomic_path(out) as tmp:
        _write_gguf(tensors, tmp, arch, alpha)
    return out


def gguf_lora_bytes(state: Mapping[str, np.ndarray], *, arch: str, alpha: float) -> bytes:
    """The adapter's GGUF file as bytes, written in memory only (to be sealed: an encrypted
    collection's adapter never touches the disk in the clear)."""
    from kbdesk.core.crypt.memfile import memory_path, read_back

    tensors = gguf_tensors(state)
    with memory_path(name="kbdesk-adapter") as path:
        _write_gguf(tensors, path, arch, alpha)
        return read_back(path)


def _write_gguf(tensors: dict, path: Path, arch: str, alpha: float) -> None:
    import gguf

    if not tensors:
        raise InvalidSetting("The adapter has no LoRA tensors to export.")
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(alpha))
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
