"""The llama.cpp model host: one warm model, chat formatting, token streaming and LoRA adapters."""

from __future__ import annotations

import codecs
import ctypes
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from kbdesk.core.errors import ErrorCode, KbdeskError, ModelMissing, Remedy
from kbdesk.core.generate.cpu_floor import check_cpu
from kbdesk.core.generate.cpu_variants import load_cpu_backend
from kbdesk.core.jobs import CancelToken, ProgressFn, no_progress
from kbdesk.core.types import Progress, Stage

if TYPE_CHECKING:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from llama_cpp.llama_types import ChatCompletionRequestMessage

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class PromptTooLong(KbdeskError):
    """The prompt plus the answer budget do not fit the model's context window."""

    code = ErrorCode.PROMPT_TOO_LONG


# llama.cpp's CPU backend runs its threads under OpenMP (libgomp), and they meet at a barrier
# after every step of every layer. libgomp lets a thread that arrives first spin for ~3 ms
# (300,000 spins) before it sleeps; when another program keeps one of two cores busy, that
# spinning holds the core its partner needs. `kbdesk ask` with the 1.5B model on 2 cores shared
# with another busy process (measured 2026-12-01, bench/bench_ask_latency.py --busy 1):
# decoding 60.7 s -> 3.1 s, prompt evaluation 65 s -> 44 s. 1,000 spins (~10 us) still catch the
# short waits of an idle machine. libgomp reads it once, as it loads with llama_cpp; a value the
# user set stands.
OPENMP_SPIN = ("GOMP_SPINCOUNT", "1000")


def load_llama_cpp():
    """The llama_cpp module, loaded only once the CPU passed the build's instruction-set floor:
    on a CPU below it, llama.cpp's code would die with "Illegal instruction" instead."""
    check_cpu()
    os.environ.setdefault(*OPENMP_SPIN)
    import llama_cpp

    from kbdesk.core.generate.llama_log import route_to_log

    route_to_log(llama_cpp)
    load_cpu_backend(llama_cpp)  # before llama.cpp would search the working folder for one
    return llama_cpp


PREFETCH_BLOCK = 16 << 20


def physical_cores() -> int:
    # llama.cpp decodes fastest with one thread per physical core; hyperthreads only contend.
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
    except ImportError:
        n = None
    return max(1, n or os.cpu_count() or 1)


class LlamaHost:
    """Loads a GGUF model on first use and keeps it warm; one generation at a time."""

    def __init__(
        self,
        model_path: str | os.PathLike,
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        n_batch: int = 512,
    ):
        self.model_path = Path(model_path)
        self._n_ctx = n_ctx
        self.n_threads = n_threads or physical_cores()
        self.n_batch = n_batch
        self._llama = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # the llama context is not safe for two generations
        self._adapters: dict[str, object] = {}  # path -> llama_adapter_lora_p
        self._adapter: tuple[str, float] | None = None
        self._formatter: Jinja2ChatFormatter | None = None
        self._pieces: dict[int, bytes] = {}
        self._grammars: dict[str, object] = {}  # GBNF text -> parsed LlamaGrammar

    # -- loading ---------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def load(self, progress: ProgressFn = no_progress, cancel: CancelToken | None = None):
        """Load now, reporting progress: the file is read once into the page cache first.

        llama.cpp maps the file and reads it page by page as the first prompt touches the
        weights, which shows nothing and is slow on a cold disk; one sequential read with
        progress makes the wait visible and the first prompt fast. Cancelling stops the read.
        """
        if self._llama is not None:
            return self._llama
        size = self.model_path.stat().st_size if self.model_path.is_file() else 0
        total = size + size // 19  # the read shows as 95%; llama.cpp's own start-up is the rest
        done = 0
        if size:
            with open(self.model_path, "rb", buffering=0) as fh:
                while block := fh.read(PREFETCH_BLOCK):
                    done += len(block)
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    progress(Progress(Stage.LOADING_MODEL, done, total, item=self.model_path.name))
        llama = self.llama
        progress(Progress(Stage.LOADING_MODEL, total, total, item=self.model_path.name))
        return llama

    @property
    def llama(self):
        if self._llama is None:
            with self._load_lock:
                if self._llama is None:
                    self._llama = self._load()
        return self._llama

    def _load(self):
        from kbdesk.core.generate.models import check_gguf

        check_gguf(self.model_path)
        Llama = load_llama_cpp().Llama

        try:
            return Llama(
                model_path=str(self.model_path),
                n_ctx=self._n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_batch=self.n_batch,
                verbose=False,
            )
        except (ValueError, RuntimeError) as err:
            raise ModelMissing(
                f"llama.cpp could not load {self.model_path.name} ({err}).",
                hint="The file may be damaged or an unsupported architecture; choose another model.",
            ) from err

    @property
    def n_ctx(self) -> int:
        return self.llama.n_ctx() if self._llama is not None else self._n_ctx

    @property
    def model_name(self) -> str:
        return self.model_path.stem

    # -- tokens and chat -------------------------------------------------------------------
    def tokenize(self, text: str, special: bool = True) -> list[int]:
        # add_bos=True asks llama.cpp for the model's own rule (Qwen adds none, Llama adds BOS).
        return self.llama.tokenize(text.encode("utf-8"), add_bos=True, special=special)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def format_chat(self, messages: list[dict]) -> str:
        formatter = self._formatter
        if formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llama = self.llama
            template = llama.metadata.get("tokenizer.chat_template") or CHATML
            vocab = llama._model
            formatter = self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=vocab.token_get_text(vocab.token_eos()) if vocab.token_eos() >= 0 else "",
                bos_token=vocab.token_get_text(vocab.token_bos()) if vocab.token_bos() >= 0 else "",
                add_generation_prompt=True,
            )
        # Our messages are {"role": system|user|assistant, "content": str} dicts, which is what
        # these TypedDicts are at run time; the formatter only renders them through the template.
        typed = cast("list[ChatCompletionRequestMessage]", messages)
        return formatter(messages=typed).prompt

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            # Own buffer: llama-cpp-python's detokenize uses 32 bytes and garbles longer pieces.
            llama_cpp = load_llama_cpp()

            size = 64
            while True:
                buf = ctypes.create_string_buffer(size)
                n = llama_cpp.llama_token_to_piece(
                    self.llama._model.vocab, token, buf, size, 0, False
                )
                if n >= 0:
                    break
                size = -n
            piece = self._pieces[token] = buf.raw[:n]
        return piece

    # -- generation ------------------------------------------------------------------------
    def stream(
        self,
        prompt: str,
        *,
        max_tokens: int = 512,
        temperature: float = 0.2,
        stop: list[str] | None = None,
        cancel: CancelToken | None = None,
        seed: int | None = None,
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        repeat_penalty: float = 1.0,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """The answer as decoded text pieces; raises Cancelled between tokens. `grammar`
        (GBNF) constrains what may be generated, so the reply always parses.

        The prompt is tokenized and checked against the context window here, so an oversized
        prompt fails at the call, before anything is evaluated; generation starts on iteration.
        """
        tokens = self._prompt_tokens(prompt)
        if len(tokens) + max_tokens > self.n_ctx:
            raise PromptTooLong(
                f"The question and its passages take {len(tokens):,} tokens; with room for a "
                f"{max_tokens:,}-token answer that exceeds the model's {self.n_ctx:,}-token window.",
                hint="Use fewer or shorter passages, or a shorter answer limit.",
            )
        sampling = {
            "top_k": top_k,
            "top_p": top_p,
            "min_p": min_p,
            "temp": temperature,
            "repeat_penalty": repeat_penalty,
        }
        if grammar is not None:
            sampling["grammar"] = self._grammar(grammar)
        stops = [s for s in (stop or []) if s]
        return self._generate(tokens, max_tokens, sampling, stops, cancel, seed)

    def _prompt_tokens(self, prompt: str) -> list[int]:
        tokens = self.tokenize(prompt)
        bos = self.llama.token_bos()
        if len(tokens) > 1 and tokens[0] == tokens[1] == bos:
            tokens = tokens[1:]  # the chat template already wrote BOS; add_bos added another
        return tokens

    def _grammar(self, text: str):
        if text not in self._grammars:
            load_llama_cpp()
            from llama_cpp.llama_grammar import LlamaGrammar

            self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[text]

    def _generate(self, tokens, max_tokens, sampling, stops, cancel, seed) -> Iterator[str]:
        llama_cpp = load_llama_cpp()

        llama = self.llama
        vocab = llama._model.vocab
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with self._run_lock:
            if cancel is not None:
                cancel.raise_if_cancelled()
            if seed is not None:
                llama.set_seed(seed)
            # Prefix reuse: with reset=True, Llama.generate() compares the new tokens with those
            # already in the KV cache (the previous prompt and answer) and keeps the longest
            # common prefix, evaluating only the rest. A fixed system prompt and instructions at
            # the start of every prompt are therefore computed once per session. Anything that
            # changes what the cache means (an adapter switch) must call llama.reset().
            gen = llama.generate(tokens, reset=True, **sampling)
            text = ""
            try:
                for produced, token in enumerate(gen, start=1):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    if llama_cpp.llama_vocab_is_eog(vocab, token):
                        break
                    # The incremental decoder holds back a character split across tokens.
                    text += decoder.decode(self._piece(token))
                    shown, text, done = _split_at_stop(text, stops) if stops else (text, "", False)
                    if shown:
                        yield shown
                    if done:
                        return
                    if produced >= max_tokens:
                        break
                text += decoder.decode(b"", final=True)
                if text:
                    yield text
            finally:
                gen.close()

    def complete(self, prompt: str, **kw) -> str:
        return "".join(self.stream(prompt, **kw))

    def choice_odds(
        self, prompt: str, first: list[str], second: list[str], cancel: CancelToken | None = None
    ) -> float:
        """How much the model prefers to begin its reply with one of `first` over one of
        `second` (each a list of spellings that are one token): P(first) / (P(first) +
        P(second)) from the next-token probabilities after `prompt`. Read from the scores, not
        sampled, so that a caller can set its own threshold instead of taking the argmax."""
        tokens = self._prompt_tokens(prompt)
        if len(tokens) + 1 > self.n_ctx:
            raise PromptTooLong(
                f"The check's prompt takes {len(tokens):,} tokens, more than the model's "
                f"{self.n_ctx:,}-token window."
            )
        llama = self.llama
        ids = [self._single_tokens(words) for words in (first, second)]
        with self._run_lock:
            if cancel is not None:
                cancel.raise_if_cancelled()
            # generate() evaluates the prompt with prefix reuse, as stream() does; its first
            # step leaves the prompt's next-token scores in the context, read before it goes on.
            gen = llama.generate(tokens, reset=True, temp=0.0)
            try:
                next(gen)
                logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),))
                logits = logits.astype(np.float64)
            finally:
                gen.close()
        weights = np.exp(logits - logits.max())
        yes, no = (float(weights[group].sum()) for group in ids)
        return yes / (yes + no) if yes + no > 0 else 0.5

    def _single_tokens(self, words: list[str]) -> list[int]:
        ids = []
        for word in words:
            found = self.llama.tokenize(word.encode("utf-8"), add_bos=False, special=False)
            if len(found) == 1 and found[0] not in ids:
                ids.append(found[0])
        if not ids:
            raise ValueError(f"none of {words} is a single token of {self.model_name}")
        return ids

    def reset(self) -> None:
        """Forgets the cached prompt, so the next one is evaluated from its first token."""
        if self._llama is not None:
            with self._run_lock:
                self._llama.reset()

    # -- adapters --------------------------------------------------------------------------
    @property
    def adapter(self) -> tuple[str, float] | None:
        return self._adapter

    def set_adapter(
        self, path: str | os.PathLike | None, scale: float = 1.0, key: bytes | None = None
    ) -> None:
        """Attaches a LoRA GGUF adapter to the warm model (None detaches); `key`: the adapter
        is sealed under it (an encrypted collection's), and is opened in memory only."""
        llama_cpp = load_llama_cpp()

        llama = self.llama
        with self._run_lock:
            if path is None:
                if self._adapter is None:
                    return
                llama_cpp.llama_set_adapters_lora(llama._ctx.ctx, None, 0, None)
                self._adapter = None
            else:
                key_of = str(Path(path).expanduser().resolve())
                if (key_of, scale) == self._adapter:
                    return
                handle = self._adapters.get(key_of) or self._init_adapter(key_of, key)
                handles = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
                scales = (ctypes.c_float * 1)(scale)
                if llama_cpp.llama_set_adapters_lora(llama._ctx.ctx, handles, 1, scales) != 0:
                    raise ModelMissing(f"The adapter {key_of} could not be attached to the model.")
                self._adapter = (key_of, scale)
            # The KV cache was computed with the previous weights: reusing its prefix would mix
            # two models' states, so the next prompt is evaluated from scratch.
            llama.reset()

    def _init_adapter(self, where: str, key: bytes | None = None):
        from kbdesk.core.adapters import ADAPTER_PURPOSE
        from kbdesk.core.crypt.memfile import memory_path
        from kbdesk.core.crypt.sealed import read_sealed

        path = Path(where)
        if not path.is_file():
            raise ModelMissing(
                f"The adapter file {path} does not exist.",
                remedy=Remedy.CHOOSE_ADAPTER,
            )
        if key is None:
            with open(path, "rb") as fh:
                head = fh.read(4)
            return self._attach_adapter(path, where, head, cache_as=where)
        # llama.cpp reads an adapter only from a path: a sealed one is opened in memory
        plain = read_sealed(path, key, ADAPTER_PURPOSE)
        with memory_path(plain, name="kbdesk-adapter") as in_memory:
            return self._attach_adapter(path, str(in_memory), plain[:4], cache_as=where)

    def _attach_adapter(self, path: Path, where: str, head: bytes, cache_as: str):
        """llama.cpp's handle of the adapter file at `where`, kept under `cache_as`."""
        llama_cpp = load_llama_cpp()

        if head != b"GGUF":
            raise ModelMissing(
                f"The adapter file {path} is not a GGUF LoRA adapter.",
                hint="An adapter must be a LoRA exported to GGUF.",
                remedy=Remedy.CHOOSE_ADAPTER,
            )
        handle = llama_cpp.llama_adapter_lora_init(self.llama._model.model, where.encode("utf-8"))
        if not handle:
            raise ModelMissing(
                f"The adapter file {path} is not a LoRA adapter for {self.model_name}.",
                hint="Adapters only work with the base model they were trained on.",
                remedy=Remedy.CHOOSE_ADAPTER,
            )
        self._adapters[cache_as] = handle
        return handle

    def close(self) -> None:
        with self._load_lock, self._run_lock:
            if self._llama is None:
                return
            llama_cpp = load_llama_cpp()
            if self._adapter is not None:
                llama_cpp.llama_set_adapters_lora(self._llama._ctx.ctx, None, 0, None)
            for handle in self._adapters.values():
                llama_cpp.llama_adapter_lora_free(handle)
            self._adapters.clear()
            self._adapter = None
            self._formatter = None
            self._pieces.clear()
            self._llama.close()
            self._llama = None


def _split_at_stop(text: str, stops: list[str]) -> tuple[str, str, bool]:
    """(text to show, tail held back because it may grow into a stop string, stop reached)."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    if hits:
        return text[: min(hits)], "", True
    keep = max(
        (i for s in stops for i in range(1, min(len(s), len(text) + 1)) if text.endswith(s[:i])),
        default=0,
    )
    return text[: len(text) - keep], text[len(text) - keep :], False
