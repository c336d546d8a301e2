"""LoRA training of one job folder (in the job's own process): checkpoints, resume, progress lines.

`train(job)` reads the job's spec and training conversations, trains a LoRA
(transformers + PEFT on the GGUF's own weights, dequantised, so the adapter fits the model that
serves it), reports each step and writes a checkpoint every `save_every` steps, and at the end
exports the adapter into the job folder (file names: jobdir.py). Run again after a kill, it
resumes from the last checkpoint. A stop request saves a checkpoint at the next step boundary
and returns EXIT_STOPPED; one that comes while the model loads trains no step.
"""

from __future__ import annotations

import functools
import json
import math
import random
import time
from pathlib import Path

from kbdesk.core.adapters import ADAPTER_PURPOSE
from kbdesk.core.store.fileio import atomic_write_text, staging_path, swap_folder, trash_path
from kbdesk.core.tune.export import gguf_lora_bytes, write_gguf_lora
from kbdesk.core.tune.jobdir import (
    ADAPTER_OUT,
    CHECKPOINT,
    CHECKPOINT_OPTIMIZER,
    CHECKPOINT_PURPOSE,
    CHECKPOINT_WEIGHTS,
    EXIT_FAILED,
    EXIT_STOPPED,
    LOSSES_FILE,
    TOKENIZER_CACHE,
    TRAIN_FILE,
    Event,
    JobFolder,
    StopRequest,
)


def load_tokenizer(model_path: Path, job: JobFolder):
    """The GGUF's tokenizer; cached in the job folder (parsing the GGUF vocabulary is slow)."""
    from transformers import AutoTokenizer

    cache = job / TOKENIZER_CACHE
    if (cache / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(str(cache))
    tok = AutoTokenizer.from_pretrained(str(model_path.parent), gguf_file=model_path.name)
    staged = staging_path(cache)
    tok.save_pretrained(str(staged))
    swap_folder(staged, cache)
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


def _save_checkpoint(job: JobFolder, model, optimizer, scheduler, state: dict) -> None:
    """Written beside the old one and swapped in: a kill leaves one whole checkpoint. The
    weights and the optimizer's moments are sealed in a job of an encrypted collection."""
    import io

    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save

    staged = staging_path(job / CHECKPOINT)
    weights = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    job.write_bytes(staged / CHECKPOINT_WEIGHTS, save(weights), CHECKPOINT_PURPOSE)
    moments = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, moments)
    job.write_bytes(staged / CHECKPOINT_OPTIMIZER, moments.getvalue(), CHECKPOINT_PURPOSE)
    (staged / "state.json").write_text(json.dumps(state), encoding="utf-8")
    swap_folder(staged, job / CHECKPOINT)


def latest_checkpoint(job: JobFolder) -> Path | None:
    # the trash: killed between the two renames of a swap
    for folder in (job / CHECKPOINT, trash_path(job / CHECKPOINT)):
        if (folder / "state.json").is_file():
            return folder
    return None


def _load_checkpoint(job: JobFolder, folder: Path, model, optimizer, scheduler) -> dict:
    import io

    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load

    set_peft_model_state_dict(
        model, load(job.read_bytes(folder / CHECKPOINT_WEIGHTS, CHECKPOINT_PURPOSE))
    )
    moments = io.BytesIO(job.read_bytes(folder / CHECKPOINT_OPTIMIZER, CHECKPOINT_PURPOSE))
    saved = torch.load(moments, weights_only=False)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    return json.loads((folder / "state.json").read_text(encoding="utf-8"))


def train(job: JobFolder) -> int:
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from transformers import AutoModelForCausalLM

    spec = job.spec()
    settings = spec.settings
    model_path = spec.base_model
    torch.manual_seed(settings.seed)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    job.emit(Event.LOADING)
    tok = load_tokenizer(model_path, job)
    conversations = job.rows(TRAIN_FILE)
    encoded = [e for e in (encode(tok, c, settings.max_tokens) for c in conversations) if e]
    if not encoded:
        job.emit(Event.ERROR, message="No training example fits the token limit.")
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
    checkpoint = latest_checkpoint(job)
    if checkpoint is not None:
        state = _load_checkpoint(job, checkpoint, model, optimizer, scheduler)
        job.emit(Event.RESUMED, step=state["step"], steps=settings.steps)
    job.emit(
        Event.STARTED,
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
        if StopRequest.requested:  # asked while the model loaded: what was saved stands
            job.emit(Event.STOPPED, stage="train", step=step)
            return EXIT_STOPPED
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
            job.emit(Event.ERROR, message="The training loss is not a number.")
            return EXIT_FAILED
        state = {"step": step + 1, "losses": [*state["losses"], round(total, 4)]}
        elapsed = time.monotonic() - started
        done = step + 1 - first_step
        eta = elapsed / done * (settings.steps - step - 1)
        job.emit(
            Event.STEP,
            step=step + 1,
            steps=settings.steps,
            loss=round(total, 4),
            seconds_per_step=round(elapsed / done, 2),
            eta_s=round(eta, 1),
        )
        last = step + 1 == settings.steps
        if StopRequest.requested or last or (step + 1) % settings.save_every == 0:
            _save_checkpoint(job, model, optimizer, scheduler, state)
            job.emit(Event.CHECKPOINT, step=step + 1)
        if StopRequest.requested and not last:
            job.emit(Event.STOPPED, stage="train", step=step + 1)
            return EXIT_STOPPED
    weights = {k: v.detach().float().numpy() for k, v in get_peft_model_state_dict(model).items()}
    if job.key is None:
        write_gguf_lora(
            weights, job / ADAPTER_OUT, arch=base.config.model_type, alpha=settings.alpha
        )
    else:  # written in memory and sealed: never on the disk in the clear
        adapter = gguf_lora_bytes(weights, arch=base.config.model_type, alpha=settings.alpha)
        job.write_bytes(job / ADAPTER_OUT, adapter, ADAPTER_PURPOSE)
    atomic_write_text(
        job / LOSSES_FILE, json.dumps({"losses": state["losses"], "steps": settings.steps})
    )
    job.emit(Event.TRAINED, step=settings.steps, steps=settings.steps)
    return 0
