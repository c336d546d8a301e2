"""LoRA training of one job folder (in the job's own process): checkpoints, resume, progress lines.

`train(job_dir)` reads `job.json` and `train.jsonl`, trains a LoRA
(transformers + PEFT on the GGUF's own weights, dequantised, so the adapter fits the model that
serves it), writes `progress.jsonl` (one JSON object per step) and a checkpoint every
`save_every` steps, and at the end exports `adapter.gguf` into the job folder. Run again
after a kill, it resumes from the last checkpoint. SIGTERM (cancel; pipeline.py installs
`on_term`) saves a checkpoint at the next step boundary and returns EXIT_CANCELLED.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import shutil
import time
from pathlib import Path

from kbdesk.core.store.fileio import atomic_write_text, fsync_dir
from kbdesk.core.tune.export import write_gguf_lora
from kbdesk.core.tune.settings import TuneSettings

JOB_FILE = "job.json"
TRAIN_FILE = "train.jsonl"
PROGRESS_FILE = "progress.jsonl"
PID_FILE = "pid"  # the running pipeline's process id (job.running_pid checks it)
CHECKPOINT = "checkpoint"
TOKENIZER_CACHE = "tokenizer"
ADAPTER_OUT = "adapter.gguf"
EXIT_CANCELLED = 3
EXIT_FAILED = 1


class _Stop:
    requested = False


def on_term(signum, frame) -> None:
    _Stop.requested = True


def emit(job_dir: Path, **event) -> None:
    event["time"] = round(time.time(), 3)
    with open(job_dir / PROGRESS_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(event) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def load_tokenizer(model_path: Path, job_dir: Path):
    """The GGUF's tokenizer; cached in the job folder (parsing the GGUF vocabulary is slow)."""
    from transformers import AutoTokenizer

    cache = job_dir / TOKENIZER_CACHE
    if (cache / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(str(cache))
    tok = AutoTokenizer.from_pretrained(str(model_path.parent), gguf_file=model_path.name)
    tmp = job_dir / (TOKENIZER_CACHE + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tok.save_pretrained(str(tmp))
    shutil.rmtree(cache, ignore_errors=True)
    os.replace(tmp, cache)
    return tok


def encode(tok, conversation: list[dict], max_tokens: int) -> tuple[list[int], int] | None:
    """Token ids of one conversation and where its answer starts (the loss is on the answer
    only), or None when it is too long."""
    prompt = tok.apply_chat_template(conversation[:-1], add_generation_prompt=True, tokenize=False)
    full = tok.apply_chat_template(conversation, tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template renders the prompt differently inside the whole")
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tok(full[len(prompt) :].rstrip("\n"), add_special_tokens=False)["input_ids"]
    ids = prompt_ids + answer_ids
    if len(ids) > max_tokens or not answer_ids:
        return None
    return ids, len(prompt_ids)


def answer_loss(model, ids: list[int], start: int):
    """Cross-entropy of the answer tokens. Logits are computed only where they are scored: a
    1,500-token prompt's logits over a 152k vocabulary would cost ~1 GB per example."""
    import torch

    tokens = torch.tensor([ids])
    out = model(input_ids=tokens, logits_to_keep=len(ids) - start + 1)
    logits = out.logits[0, :-1].float()  # position t predicts token t + 1
    return torch.nn.functional.cross_entropy(logits, tokens[0, start:])


def base_dtype():
    """bfloat16 where the processor computes it natively (2.5x faster and half the memory of
    float32 for the 0.5B model on this project's machine, bench/RESULTS.md "Adapters"); float32
    elsewhere. The adapter itself is always float32."""
    import torch

    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return torch.bfloat16 if native else torch.float32


def _save_checkpoint(job_dir: Path, model, optimizer, scheduler, state: dict) -> None:
    """Written beside the old one and swapped in by renames: a kill leaves one whole checkpoint."""
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    final = job_dir / CHECKPOINT
    tmp = job_dir / (CHECKPOINT + ".tmp")
    old = job_dir / (CHECKPOINT + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    weights = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    save_file(weights, str(tmp / "adapter.safetensors"))
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
        tmp / "optimizer.pt",
    )
    (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    fsync_dir(job_dir)
    shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(job_dir: Path) -> Path | None:
    for name in (CHECKPOINT, CHECKPOINT + ".old"):  # .old: killed between the two renames
        folder = job_dir / name
        if (folder / "state.json").is_file():
            return folder
    return None


def _load_checkpoint(folder: Path, model, optimizer, scheduler) -> dict:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(folder / "adapter.safetensors")))
    saved = torch.load(folder / "optimizer.pt", weights_only=False)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    return json.loads((folder / "state.json").read_text(encoding="utf-8"))


def train(job_dir: Path) -> int:
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from transformers import AutoModelForCausalLM

    job = json.loads((job_dir / JOB_FILE).read_text(encoding="utf-8"))
    settings = TuneSettings.from_json(job["settings"])
    model_path = Path(job["base_model"])
    torch.manual_seed(settings.seed)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    emit(job_dir, event="loading")
    tok = load_tokenizer(model_path, job_dir)
    conversations = [
        json.loads(line)
        for line in (job_dir / TRAIN_FILE).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    encoded = [e for e in (encode(tok, c, settings.max_tokens) for c in conversations) if e]
    if not encoded:
        emit(job_dir, event="error", message="No training example fits the token limit.")
        return EXIT_FAILED
    base = AutoModelForCausalLM.from_pretrained(
        str(model_path.parent), gguf_file=model_path.name, dtype=base_dtype()
    )
    # Activations are recomputed in the backward pass instead of kept: long prompts with
    # passages would otherwise need several GB per example.
    base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    base.enable_input_require_grads()
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    warmup = max(1, settings.steps // 20)

    def rate(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (settings.steps - step) / max(1, settings.steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    state: dict = {"step": 0, "losses": []}
    checkpoint = latest_checkpoint(job_dir)
    if checkpoint is not None:
        state = _load_checkpoint(checkpoint, model, optimizer, scheduler)
        emit(job_dir, event="resumed", step=state["step"], steps=settings.steps)
    emit(
        job_dir,
        event="started",
        step=state["step"],
        steps=settings.steps,
        examples=len(encoded),
        dropped_too_long=len(conversations) - len(encoded),
    )

    @functools.cache  # one shuffle per pass, not one per example
    def order(epoch: int) -> list[int]:
        idx = list(range(len(encoded)))
        random.Random(settings.seed + epoch).shuffle(idx)
        return idx

    per_step = settings.batch
    started = time.monotonic()
    first_step = state["step"]
    for step in range(state["step"], settings.steps):
        total = 0.0
        for micro in range(per_step):
            n = step * per_step + micro
            ids, start = encoded[order(n // len(encoded))[n % len(encoded)]]
            loss = answer_loss(model, ids, start)
            (loss / per_step).backward()
            total += float(loss.detach()) / per_step
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if not math.isfinite(total):
            emit(job_dir, event="error", message="The training loss is not a number.")
            return EXIT_FAILED
        state = {"step": step + 1, "losses": [*state["losses"], round(total, 4)]}
        elapsed = time.monotonic() - started
        done = step + 1 - first_step
        eta = elapsed / done * (settings.steps - step - 1)
        emit(
            job_dir,
            event="step",
            step=step + 1,
            steps=settings.steps,
            loss=round(total, 4),
            seconds_per_step=round(elapsed / done, 2),
            eta_s=round(eta, 1),
        )
        last = step + 1 == settings.steps
        if _Stop.requested or last or (step + 1) % settings.save_every == 0:
            _save_checkpoint(job_dir, model, optimizer, scheduler, state)
            emit(job_dir, event="checkpoint", step=step + 1)
        if _Stop.requested and not last:
            emit(job_dir, event="cancelled", step=step + 1)
            return EXIT_CANCELLED
    weights = {k: v.detach().float().numpy() for k, v in get_peft_model_state_dict(model).items()}
    write_gguf_lora(
        weights, job_dir / ADAPTER_OUT, arch=base.config.model_type, alpha=settings.alpha
    )
    atomic_write_text(
        job_dir / "losses.json", json.dumps({"losses": state["losses"], "steps": settings.steps})
    )
    emit(job_dir, event="done", step=settings.steps, steps=settings.steps)
    return 0
