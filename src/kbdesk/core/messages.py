"""Every sentence kbdesk says to a user about an answer, in English and Chinese, and the wording
of each error remedy for the window and for the command line.

Answer-side messages follow the language of the question (a Chinese question gets Chinese
notices); the window's own labels are English. Remedies are worded per audience because a
window user clicks and a terminal user types: the core names neither a menu nor a command.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

from kbdesk.core.errors import KbdeskError, Remedy
from kbdesk.core.search.text import has_cjk


class Lang(StrEnum):
    EN = "en"
    ZH = "zh"


def language_of(text: str) -> Lang:
    """The language to answer in: Chinese when the text has any CJK character."""
    return Lang.ZH if has_cjk(text or "") else Lang.EN


# key -> (English, Chinese); str.format fields are filled by say().
MESSAGES: dict[str, tuple[str, str]] = {
    "empty_question": ("Please type a question.", "请输入问题。"),
    "question_too_long": (
        "The question is too long ({length:,} characters; the limit is {limit:,}). "
        "Shorten it or ask about one point at a time.",
        "问题过长（{length:,} 个字符，上限 {limit:,}）。请缩短或分开提问。",
    ),
    "no_documents": (
        "Collection '{collection}' has no documents yet. Import documents, then ask again.",
        "资料库“{collection}”中还没有文档。请先导入文档再提问。",
    ),
    "declined": (
        "The documents do not contain the answer to this question.",
        "文档中没有找到这个问题的答案。",
    ),
    "closest_passage": (
        "The model did not find an answer; the closest passage says:",
        "模型没有找到答案；最接近的段落写道：",
    ),
    "quoted_notice": (
        "This is a quotation from your documents, not an answer: check that it answers your "
        "question.",
        "这是文档原文的引用，不是回答：请确认它是否回答了您的问题。",
    ),
    "nothing_close": (
        "No passage is close enough to the question.",
        "没有与问题足够接近的段落。",
    ),
    "other_version": (
        "The passages that answer this are from {documents}, not version {versions}, which the "
        "question asks about.",
        "能回答这个问题的段落来自 {documents}，而不是问题所问的 {versions} 版。",
    ),
    "other_document": (
        "The passages that answer this are from {documents}, not {asked}, which the question "
        "asks about.",
        "能回答这个问题的段落来自 {documents}，而不是问题所问的 {asked}。",
    ),
    "never_mentioned": (
        "Your documents never mention {names}.",
        "您的文档中从未提到 {names}。",
    ),
    "passages_left_out": (
        "{count} passages did not fit in the model's context and were left out.",
        "有 {count} 个段落超出了模型的上下文，未被使用。",
    ),
    "no_usable_answer": ("The model gave no usable answer.", "模型没有给出可用的回答。"),
    "unverified": (
        "This answer could not be verified against your documents.",
        "这个回答无法在您的文档中得到核实。",
    ),
    "doubted_words": (
        "Words of this answer are not in the sentences it cites: read them before relying on it.",
        "这个回答中的一些词不在它引用的句子里：请先阅读这些句子再使用它。",
    ),
    "restated": (
        "This answer only repeats the question's own words, so the check cannot tell whether the "
        "cited sentences say it: read them before relying on it.",
        "这个回答只是重复了问题中的词语，无法核对引用的句子是否这样说：请先阅读这些句子再使用它。",
    ),
    "names_unmentioned": (
        "The passages this answer cites never mention {names}, which the question asks about: "
        "the answer may be about something else. Read them before relying on it.",
        "这个回答引用的段落从未提到问题所问的 {names}：回答可能说的是别的内容。请先阅读这些段落再使用它。",
    ),
    "names_unquoted": (
        "This answer names {names}, which the sentences it cites do not: read them before "
        "relying on it.",
        "这个回答提到了 {names}，但它引用的句子中没有：请先阅读这些句子再使用它。",
    ),
    "doubted_by_model": (
        "A second check doubts that the cited sentences say this: read them before relying on it.",
        "复核认为引用的句子可能并未这样说：请先阅读这些句子再使用它。",
    ),
    "doubted_declined": (
        "A second check found that the closest sentences do not back the model's answer, so "
        "none is given: the passages below are the closest.",
        "复核发现最接近的句子并不支持模型的回答，因此不给出回答：下面是最接近的段落。",
    ),
    "unsupported_sentences": (
        "{count} sentence(s) are not supported by the cited passages.",
        "有 {count} 句话未得到引用段落的支持。",
    ),
    "no_answer": ("The model gave no answer.", "模型没有给出回答。"),
    "without_documents": (
        "Answered without your documents (no citations).",
        "未检索文档，直接由模型回答（无引用）。",
    ),
    "summary_of": (
        "Summary of all {chunks} passages of {document}.",
        "已汇总 {document} 的全部 {chunks} 个段落。",
    ),
}


def say(key: str, lang: Lang | str, **fields) -> str:
    """The catalogue's sentence `key` in `lang`, its fields filled in."""
    en, zh = MESSAGES[key]
    return (zh if Lang(lang) is Lang.ZH else en).format(**fields)


def join_notices(*notices: str | None) -> str | None:
    """Several notices as one line (None when there are none)."""
    text = " ".join(n.strip() for n in notices if n and n.strip())
    return text or None


class Audience(StrEnum):
    WINDOW = "window"
    CLI = "cli"


def running_from_checkout() -> bool:
    """Whether kbdesk runs from a source checkout (developers), not an installed package."""
    if getattr(sys, "frozen", False):
        return False
    root = Path(__file__).resolve().parents[3]
    return (root / "pyproject.toml").is_file() and (root / "build" / "setup.sh").is_file()


_REMEDIES: dict[Remedy, dict[Audience, str]] = {
    Remedy.RESTORE_BUILTIN_MODELS: {
        Audience.WINDOW: "Reinstall kbdesk to restore its built-in models, or choose a GGUF "
        "model file you own in File › Settings › Model › Browse.",
        Audience.CLI: "Reinstall kbdesk to restore its built-in models, or answer with a GGUF "
        "model file you own: kbdesk ask --model PATH.gguf.",
    },
    Remedy.CHOOSE_ANSWER_MODEL: {
        Audience.WINDOW: "Choose another model in File › Settings › Model.",
        Audience.CLI: "Choose another model with --model (kbdesk models lists them).",
    },
    Remedy.ADD_MODEL_FILE: {
        Audience.WINDOW: "Add the GGUF file in File › Settings › Model › Browse.",
        Audience.CLI: "Give the path of a .gguf file to --model (kbdesk models lists the "
        "known ones).",
    },
    Remedy.CHOOSE_ADAPTER: {
        Audience.WINDOW: "Choose another adapter, or None, in File › Settings › Adapter.",
        Audience.CLI: "Choose another adapter with --adapter, or leave it out.",
    },
    Remedy.NEWER_COMPUTER: {
        Audience.WINDOW: "Importing and searching documents still work; asking questions needs "
        "a newer computer.",
        Audience.CLI: "kbdesk ingest and kbdesk search still work; kbdesk ask needs a newer "
        "computer.",
    },
    Remedy.UNLOCK_COLLECTION: {
        Audience.WINDOW: "Type its passphrase or recovery key beside the lock and click Unlock.",
        Audience.CLI: "Run the command in a terminal to be asked for its passphrase, give a "
        "file that holds it with --passphrase-file FILE, or remember the unlock on this "
        "computer with kbdesk unlock --remember.",
    },
}

# Developers run from a checkout, where the built-in models are assembled by the Makefile.
_CHECKOUT_EXTRA = {
    Remedy.RESTORE_BUILTIN_MODELS: "In a source checkout, `make run` assembles them.",
}


def remedy_text(remedy: Remedy, audience: Audience) -> str:
    text = _REMEDIES[remedy][audience]
    extra = _CHECKOUT_EXTRA.get(remedy)
    if audience is Audience.CLI and extra and running_from_checkout():
        text = f"{text} {extra}"
    return text


def explain(exc: KbdeskError, audience: Audience) -> str:
    """The whole message for `audience`: what happened, the general hint, then the way out."""
    parts = [str(exc)]
    if exc.remedy is not None:
        parts.append(remedy_text(exc.remedy, audience))
    return " ".join(parts)
