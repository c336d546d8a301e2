"""Chat prompts for grounded answers, plain answers and follow-up rewriting, fitted to the context window."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.generate.answer_text import strip_markers
from kbdesk.core.messages import language_of
from kbdesk.core.types import Hit, source_place

# The model's whole reply when the sources do not answer the question; citations.py detects it.
NOT_IN_DOCUMENTS = "NOT_IN_DOCUMENTS"

# Chat templates wrap every message in markup (ChatML: "<|im_start|>role\n ... <|im_end|>\n",
# 5-6 tokens); 8 leaves room for templates that are a little heavier. The reply's own header
# ("<|im_start|>assistant\n") is counted as one more message.
MESSAGE_OVERHEAD = 8
# Older turns rarely matter to a follow-up and cost context that passages need more.
MAX_HISTORY_EXCHANGES = 2

# Measured on bench/corpus with the 1.5B model: a literal reply token (NOT_IN_DOCUMENTS) in
# the rules, repeated after the question, drew the model to it even when source [1] held the
# answer (64% of answerable questions declined); asking for a plain sentence instead answered
# them and still declined unanswerable ones. The sentinel is still recognised if a model emits it.
# What the model says when the sources do not answer; adapters are trained to say the same.
DECLINE_SENTENCE = {"en": "The documents do not contain the answer.", "zh": "文档中没有找到答案。"}
SYSTEM_PROMPT = f"""You answer questions using only the numbered sources the user provides. \
Cite each sentence with the number of the source it uses, like [2] (several: [1][3]). Never \
invent facts, numbers or names that the sources do not state. Answer in the language of the \
question. Be concise. If the sources do not answer the question, say so in one sentence: \
"{DECLINE_SENTENCE["en"]}" (in Chinese: "{DECLINE_SENTENCE["zh"]}")."""

# The re-ask after a decline (answerer.py): one passage, and no way to decline; the citation
# checker decides whether the reply stands (bench/RESULTS.md, "Quality on real documents").
REASK_SYSTEM_PROMPT = """You answer a question from the numbered source the user provides. \
Answer in one or two sentences with the source's own names, numbers and terms, and cite it like \
[1]. Answer in the language of the question."""

# The answer's language, named outright after the question: after English sources the 1.5B
# model answered Chinese questions in English (9 of 82 on the real corpus) though the rules ask
# for the language of the question. English questions are left as they were.
ANSWER_IN = {"en": "in English", "zh": "in Chinese (用中文回答)"}

NO_RAG_SYSTEM_PROMPT = """You are a helpful assistant. Answer concisely and accurately, in the \
language of the question. If you are not sure of something, say so instead of guessing."""

REWRITE_SYSTEM_PROMPT = """Rewrite the user's latest question as one standalone question that \
can be understood without the conversation, using the conversation to resolve words like "it", \
"that" or "the second one". Keep the language of the latest question. If it is already \
standalone, repeat it unchanged. Output only the rewritten question."""

_REWRITE_TURN_CHARS = 600  # enough to know what an earlier answer was about

Message = dict[str, str]
History = Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class PromptPlan:
    """Messages ready for a chat template, and what was left out to make them fit."""

    messages: list[Message]
    sources: tuple[Hit, ...]  # numbered 1..n in this order
    omitted: tuple[Hit, ...]  # did not fit, in ranking order
    prompt_tokens: int  # conservative: rendered messages plus template overhead
    notice: str | None = None  # for the user, when passages were left out


def passage_text(hit: Hit) -> str:
    """What a source stands for: the passage's chosen sentences when it was cut down to them,
    else the passage with any neighbouring text the search added."""
    if hit.excerpt:
        return hit.excerpt
    parts = (hit.context_before, hit.text, hit.context_after)
    return "\n".join(p.strip() for p in parts if p and p.strip())


def source_block(n: int, hit: Hit) -> str:
    # Not the section path: with it in every heading (and the new chunks) the 1.5B model got
    # fewer answers right on the real corpus (bench/RESULTS.md, "Section paths in the prompt").
    return f"[{n}] {source_place(hit.document, hit.page)}:\n{passage_text(hit)}"


def passage_budget_fit(
    hits: Sequence[Hit], budget: int, count_tokens: Callable[[str], int]
) -> list[Hit]:
    """The passages, best first, that fit in `budget` tokens together; one that does not fit
    is left out whole (a smaller later one may still fit). Prompt evaluation is most of an
    answer's time on a CPU, so the prompt reads no more than this."""
    kept, used = [], 0
    for hit in hits:
        cost = int(count_tokens(passage_text(hit)))
        if used + cost <= budget:
            kept.append(hit)
            used += cost
    return kept


def user_message(question: str, blocks: Sequence[str]) -> str:
    sources = "\n\n".join(blocks) if blocks else "(none)"
    text = f"Sources:\n{sources}\n\nQuestion: {question.strip()}"
    if language_of(question) == "zh":
        text += f"\n\nAnswer {ANSWER_IN['zh']}."
    return text


def recent_history(history: History) -> list[Message]:
    """The last exchanges, with old [n] markers removed: they pointed at other sources."""
    exchanges: list[list[Message]] = []
    for turn in history:
        role, content = turn.get("role", ""), turn.get("content", "")
        if role not in ("user", "assistant") or not content.strip():
            continue
        if role == "user" or not exchanges:
            exchanges.append([])
        text = strip_markers(content) if role == "assistant" else content
        exchanges[-1].append({"role": role, "content": text.strip()})
    return [m for ex in exchanges[-MAX_HISTORY_EXCHANGES:] for m in ex]


def count_messages(messages: Sequence[Message], count_tokens: Callable[[str], int]) -> int:
    """Tokens of the rendered messages, plus markup per message and the reply header."""
    body = sum(int(count_tokens(m["content"])) for m in messages)
    return body + MESSAGE_OVERHEAD * (len(messages) + 1)


def build_messages(
    question: str,
    hits: Sequence[Hit],
    *,
    history: History = (),
    count_tokens: Callable[[str], int],
    context_window: int,
    answer_budget: int,
    system: str | None = None,
) -> PromptPlan:
    """Fit the best-ranked passages, then recent history, into what the answer leaves free.

    A passage that does not fit is left out whole (a smaller later one may still fit); history
    goes before any passage does. Raises InvalidSetting when the question alone is too long.
    """
    if answer_budget <= 0 or context_window <= answer_budget:
        raise InvalidSetting(
            f"The answer budget ({answer_budget} tokens) must be positive and smaller than the "
            f"model's context window ({context_window} tokens).",
            hint="Lower the answer length or choose a model with a larger context.",
        )
    limit = context_window - answer_budget
    system_msg = {"role": "system", "content": system or SYSTEM_PROMPT}

    def render(blocks: Sequence[str], past: Sequence[Message]) -> list[Message]:
        last = {"role": "user", "content": user_message(question, blocks)}
        return [system_msg, *past, last]

    base = count_messages(render([], []), count_tokens)
    if base > limit:
        raise InvalidSetting(
            f"The question is too long: with the instructions it needs {base} tokens, but the "
            f"model has room for {limit} ({base - limit} too many).",
            hint="Shorten the question or choose a model with a larger context.",
        )
    # Pieces are counted one by one; the full render is re-counted below because tokenizers
    # are not additive across joins.
    free = limit - base
    blocks: dict[int, str] = {}
    for i, hit in enumerate(hits):
        block = source_block(len(blocks) + 1, hit)
        cost = int(count_tokens(block + "\n\n"))
        if cost <= free:
            blocks[i] = block
            free -= cost
    past = recent_history(history)
    while past and sum(int(count_tokens(m["content"])) + MESSAGE_OVERHEAD for m in past) > free:
        past = past[2:] if len(past) > 1 and past[1]["role"] == "assistant" else past[1:]

    while True:
        kept = list(blocks)
        numbered = [source_block(n, hits[i]) for n, i in enumerate(kept, start=1)]
        messages = render(numbered, past)
        total = count_messages(messages, count_tokens)
        if total <= limit or (not past and not blocks):
            break
        if past:
            past = past[2:] if len(past) > 1 and past[1]["role"] == "assistant" else past[1:]
        else:
            del blocks[kept[-1]]
    sources = tuple(hits[i] for i in blocks)
    omitted = tuple(h for i, h in enumerate(hits) if i not in blocks)
    notice = None
    if omitted:
        notice = (
            f"{len(omitted)} of {len(hits)} passages did not fit in the model's context "
            "and were left out."
        )
    return PromptPlan(messages, sources, omitted, total, notice)


def no_rag_messages(question: str, history: History = ()) -> list[Message]:
    """A plain assistant prompt, for answering without the documents (`--no-rag`)."""
    return [
        {"role": "system", "content": NO_RAG_SYSTEM_PROMPT},
        *recent_history(history),
        {"role": "user", "content": question.strip()},
    ]


def rewrite_messages(question: str, history: History) -> list[Message]:
    """A prompt that turns a follow-up ("and the second one?") into a standalone search query."""
    lines = []
    for turn in recent_history(history):
        content = " ".join(turn["content"].split())
        if len(content) > _REWRITE_TURN_CHARS:
            content = content[:_REWRITE_TURN_CHARS] + " ..."
        lines.append(f"{turn['role'].capitalize()}: {content}")
    conversation = "\n".join(lines) if lines else "(no earlier conversation)"
    user = (
        f"Conversation:\n{conversation}\n\nLatest question: {question.strip()}\n\n"
        "Standalone question:"
    )
    return [
        {"role": "system", "content": REWRITE_SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]
