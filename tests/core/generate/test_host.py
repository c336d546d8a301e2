"""LlamaHost on the real 0.5B model: streaming, UTF-8, cancel, context limits, prefix reuse, LoRA."""

from __future__ import annotations

import itertools

import pytest

from kbdesk.core.errors import Cancelled, ModelMissing
from kbdesk.core.generate.host import PromptTooLong, _split_at_stop
from kbdesk.core.jobs import CancelToken
from tests.core.generate.lora_fixture import write_random_lora

GREEDY = {"temperature": 0.0, "seed": 7}


def chat(host, question: str, system: str = "You are a helpful assistant.") -> str:
    return host.format_chat(
        [{"role": "system", "content": system}, {"role": "user", "content": question}]
    )


def test_format_chat_uses_the_models_chatml_template(small_host):
    prompt = chat(small_host, "Hi")
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    assert prompt.endswith("<|im_start|>assistant\n")
    assert small_host.count_tokens("hello world") == 2
    assert small_host.tokenize("<|im_end|>") == [151645]  # one special token, not text


def fresh(host, method, prompt: str, **kw):
    """Greedy output is only bit-identical between identically batched evaluations: with the
    prompt prefix reused from the cache, the last prompt token is evaluated alone and may round
    differently (seen with the portable AVX2 build: "是中华人民共和国首都" vs "…的首都").
    Outputs that a test compares are therefore each computed on a fresh context."""
    host.reset()
    return method(prompt, **kw)


def test_stream_pieces_join_to_complete_and_chinese_decodes_cleanly(small_host):
    prompt = chat(small_host, "用中文介绍一下北京，两句话。")
    pieces = list(fresh(small_host, small_host.stream, prompt, max_tokens=20, **GREEDY))
    text = "".join(pieces)
    assert len(pieces) > 1
    assert text == fresh(small_host, small_host.complete, prompt, max_tokens=20, **GREEDY)
    assert "\ufffd" not in text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_characters_split_across_tokens_are_never_garbled(small_host, monkeypatch):
    # Byte-level BPE splits rare characters (emoji, musical symbols) over several tokens whose
    # pieces are not valid UTF-8 on their own; feed exactly those tokens through stream().
    llama = small_host.llama
    text = "你好 𝄞 🙂 ok"
    tokens = small_host.tokenize(text, special=False)
    assert any(_invalid_utf8(small_host._piece(t)) for t in tokens)
    eos = llama.token_eos()

    def fake_generate(_prompt, **_kw):
        yield from [*tokens, eos]

    monkeypatch.setattr(llama, "generate", fake_generate)
    pieces = list(small_host.stream("x", max_tokens=50))
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)


def _invalid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def test_cancel_between_tokens(small_host, eval_counter):
    token = CancelToken()
    prompt = chat(small_host, "Count from 1 to 100.")
    stream = small_host.stream(prompt, max_tokens=60, cancel=token, **GREEDY)
    assert len(list(itertools.islice(stream, 3))) == 3
    before = len(eval_counter)
    token.cancel()
    with pytest.raises(Cancelled):
        next(stream)
    assert len(eval_counter) - before <= 1  # stopped at the next token, not at max_tokens
    assert small_host.complete(prompt, max_tokens=2, **GREEDY)  # the host is still usable


def test_prompt_too_long_is_refused_without_evaluating_anything(small_host, eval_counter):
    prompt = chat(small_host, "word " * 4000)
    n = small_host.count_tokens(prompt)
    assert n < small_host.n_ctx < n + 512
    with pytest.raises(PromptTooLong) as err:
        small_host.stream(prompt, max_tokens=512)  # at the call, before any iteration
    assert f"{n:,}" in str(err.value) and f"{small_host.n_ctx:,}" in str(err.value)
    assert eval_counter == []


def test_second_question_reuses_the_cached_prompt_prefix(small_host, eval_counter):
    facts = " ".join(f"Item {i} has code {i * 7}." for i in range(96))
    system = "Answer only from these facts.\n" + facts
    first = chat(small_host, "What is the code of item 3?", system)
    second = chat(small_host, "What is the code of item 12?", system)
    t1, t2 = small_host.tokenize(first), small_host.tokenize(second)
    shared = next(i for i, (a, b) in enumerate(zip(t1, t2, strict=False)) if a != b)
    assert shared >= 1000

    small_host.reset()
    small_host.complete(first, max_tokens=4, **GREEDY)
    assert eval_counter[0] == len(t1)  # fresh: the whole prompt was evaluated
    eval_counter.clear()
    small_host.complete(second, max_tokens=4, **GREEDY)
    assert eval_counter[0] == len(t2) - shared  # only the new suffix


def test_adapter_changes_output_and_detaching_restores_it(small_host, tmp_path):
    prompt = chat(small_host, "Say hello in one short sentence.")
    base = fresh(small_host, small_host.complete, prompt, max_tokens=8, **GREEDY)
    adapter = write_random_lora(small_host.llama.metadata, tmp_path / "random.gguf")
    try:
        small_host.set_adapter(adapter, scale=2.0)
        assert small_host.adapter == (str(adapter.resolve()), 2.0)
        assert small_host.complete(prompt, max_tokens=8, **GREEDY) != base
    finally:
        small_host.set_adapter(None)
    assert small_host.adapter is None
    # Detaching resets the context itself (the cache was computed with other weights).
    assert small_host.complete(prompt, max_tokens=8, **GREEDY) == base


def test_missing_or_invalid_adapter_names_the_file(small_host, tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelMissing, match="nope.gguf"):
        small_host.set_adapter(missing)
    bogus = tmp_path / "bogus.gguf"
    bogus.write_text("not an adapter")
    with pytest.raises(ModelMissing, match="bogus.gguf"):
        small_host.set_adapter(bogus)
    assert small_host.adapter is None


def test_llama_cpp_messages_go_to_the_log_not_the_terminal(small_host, tmp_path, capfd, caplog):
    import ctypes
    import logging
    import struct
    from pathlib import Path

    import llama_cpp

    from kbdesk.core.generate.cpu_variants import loaded_copy

    small_host.llama  # noqa: B018 - loaded before the capture starts
    capfd.readouterr()
    # The warning llama.cpp printed once per tensor while attaching an adapter, sent through
    # its own logger as llama.cpp does (it appears only on processors with repacked weights).
    # through the copy of ggml that libllama itself loaded (a wheel holds copies, not links)
    ggml = ctypes.CDLL(str(loaded_copy(Path(llama_cpp.__file__).parent / "lib", "ggml-base")))
    warn = 3  # GGML_LOG_LEVEL_WARN
    header_only = tmp_path / "header-only.gguf"  # a GGUF, but no adapter: llama.cpp complains
    header_only.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 0))
    with caplog.at_level(logging.DEBUG, logger="kbdesk.llama"):
        ggml.ggml_log_internal(warn, b"%s\n", b"load_tensors: cannot use buft CPU_REPACK (test)")
        with pytest.raises(ModelMissing, match="header-only.gguf is not a LoRA adapter"):
            small_host.set_adapter(header_only)
    out, err = capfd.readouterr()
    assert "CPU_REPACK" not in out + err and "general.type" not in out + err
    logged = [r.getMessage() for r in caplog.records if r.name == "kbdesk.llama"]
    assert any("CPU_REPACK" in m for m in logged) and any("general.type" in m for m in logged)
    assert all(r.levelno < logging.WARNING for r in caplog.records if r.name == "kbdesk.llama")


def test_stop_strings_are_cut_and_never_shown(small_host):
    prompt = chat(small_host, "List three fruits, one per line.")
    text = small_host.complete(prompt, max_tokens=20, stop=["\n"], **GREEDY)
    assert text and "\n" not in text
    assert _split_at_stop("abc[END]x", ["[END]"]) == ("abc", "", True)
    assert _split_at_stop("answer [E", ["[END]", "\n\n"]) == ("answer ", "[E", False)
    assert _split_at_stop("answer", ["[END]"]) == ("answer", "", False)


SPIN_CHECK = """
import os, sys
from kbdesk.core.generate.host import LlamaHost
assert "llama_cpp" not in sys.modules  # libgomp has not read its environment yet
host = LlamaHost(sys.argv[1], n_ctx=512)
print(host.complete(host.format_chat([{"role": "user", "content": "Say yes."}]), max_tokens=2))
with open("/proc/self/maps") as fh:
    loaded = "libgomp" in fh.read()
print(os.environ.get("GOMP_SPINCOUNT"), loaded)
"""


@pytest.mark.parametrize("preset", [None, "5"])
def test_llama_cpps_openmp_threads_spin_briefly_unless_the_user_chose(small_model, preset):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    if preset is not None:
        env["GOMP_SPINCOUNT"] = preset
    out = subprocess.run(
        [sys.executable, "-c", SPIN_CHECK, str(small_model)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[-2] == (preset or "1000")
    if sys.platform == "linux":
        assert out[-1] == "True"  # the bundled llama.cpp is the OpenMP build this is for
