"""Writes a small random LoRA adapter GGUF that llama.cpp accepts for a given base model.

Layout follows llama.cpp's convert_lora_to_gguf.py: for a base weight W of numpy shape
[n_out, n_in] (GGUF ne = [n_in, n_out]), `lora_a` is [rank, n_in] and `lora_b` is [n_out, rank]
in numpy order, so llama.cpp sees a.ne = [n_in, rank] and b.ne = [rank, n_out]; it computes
W x + scale * (alpha / rank) * B (A x).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_metadata(base_gguf: Path) -> dict:
    """The base model's key/values. Slow (seconds: it parses the whole vocabulary); callers
    that have the model loaded pass `Llama.metadata` instead."""
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))
    return {key: field.contents() for key, field in reader.fields.items() if "token" not in key}


def base_dims(metadata: dict) -> dict:
    arch = metadata["general.architecture"]
    n_embd = int(metadata[f"{arch}.embedding_length"])
    n_head = int(metadata[f"{arch}.attention.head_count"])
    n_head_kv = int(metadata.get(f"{arch}.attention.head_count_kv") or n_head)
    return {
        "arch": arch,
        "n_layer": int(metadata[f"{arch}.block_count"]),
        "n_embd": n_embd,
        "n_head": n_head,
        "n_head_kv": n_head_kv,
        "head_dim": n_embd // n_head,
    }


def write_random_lora(
    base: Path | dict,
    out: Path,
    *,
    rank: int = 8,
    alpha: float = 16.0,
    std: float = 0.05,
    seed: int = 0,
    layers: int | None = None,
) -> Path:
    """A LoRA on attn_q and attn_v of the first `layers` blocks (all by default).

    `base` is the base model's GGUF path or its metadata (`Llama.metadata`)."""
    import gguf

    dims = base_dims(base if isinstance(base, dict) else read_metadata(Path(base)))
    rng = np.random.default_rng(seed)
    n_embd, kv = dims["n_embd"], dims["n_head_kv"] * dims["head_dim"]
    writer = gguf.GGUFWriter(str(out), dims["arch"])
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(alpha))
    for layer in range(layers if layers is not None else dims["n_layer"]):
        for name, n_out in (("attn_q", n_embd), ("attn_v", kv)):
            a = rng.normal(0.0, std, size=(rank, n_embd)).astype(np.float32)
            b = rng.normal(0.0, std, size=(n_out, rank)).astype(np.float32)
            writer.add_tensor(f"blk.{layer}.{name}.weight.lora_a", a)
            writer.add_tensor(f"blk.{layer}.{name}.weight.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
