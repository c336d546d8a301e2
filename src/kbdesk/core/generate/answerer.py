"""Answering a question from a collection: retrieve, gate, prompt, stream, then check citations."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from kbdesk.core.adapters import (  # resolve_adapter re-exported
    adapter_key,
    adapter_name,
    check_base,
    resolve_adapter,
)
from kbdesk.core.embed import create_embedder, relevance_floor
from kbdesk.core.errors import InvalidSetting, KbdeskError
from kbdesk.core.generate.answer_check import (
    NO,
    YES,
    check_messages,
    names_unmentioned,
    names_unquoted,
    odds_floors,
    quoted,
    restates,
    words_unquoted,
)
from kbdesk.core.generate.citations import (
    CitedAnswer,
    check_citations,
    citation_of,
    strip_markers,
)
from kbdesk.core.generate.evidence_select import (
    SELECTION_TOKENS,
    about_this_question,
    answer_turn,
    chosen_sources,
    evidence_of,
    parse_selection,
    quote_chosen,
    selection_turn,
)
from kbdesk.core.generate.evidence_windows import evidence_windows
from kbdesk.core.generate.faithfulness import furniture
from kbdesk.core.generate.host import LlamaHost
from kbdesk.core.generate.models import ModelFolders, ModelRegistry
from kbdesk.core.generate.prompt import (
    NOT_IN_DOCUMENTS,
    REASK_SYSTEM_PROMPT,
    PromptPlan,
    build_messages,
    no_rag_messages,
    rewrite_messages,
)
from kbdesk.core.generate.summarise import Summariser, find_document_task
from kbdesk.core.generate.support import closest_sentence
from kbdesk.core.jobs import CancelToken, ProgressFn, no_progress
from kbdesk.core.messages import join_notices, language_of, say
from kbdesk.core.search.answer_context import PAGES_READ
from kbdesk.core.search.text import has_cjk
from kbdesk.core.settings import check_passages, check_temperature
from kbdesk.core.types import Answer, AnswerOutcome, Citation, DocStatus, Evidence, Hit

MAX_QUESTION_CHARS = 4000
# The closest-passage quotation when the model declines: sentences of the top passages scored
# against the question (support.py's word + meaning score). Set where no unanswerable question
# of either corpus got a quotation (bench/RESULTS.md, "Quality on real documents": at 0.6 one
# in five answerable questions of the real corpus would, 0 of 40 unanswerable ones).
QUOTE_THRESHOLD = 0.6
QUOTE_PASSAGES = 3
REASK_TOKENS = 160  # one or two sentences
NEAREST = 3
# Tokens of passages the answer prompt reads: the sentences closest to the question with their
# neighbours, from the best pages' passages (evidence_windows.py). Prompt evaluation is most of
# an answer's time (~53 tokens/s for the 1.5B model on 2 cores); set by bench/bench_evidence.py
# (bench/RESULTS.md, "What the model reads").
READING_BUDGET = 1200


@dataclass(frozen=True)
class AskOptions:
    passages: int = PAGES_READ  # places (pages) whose passages the prompt draws on
    reading_budget: int = READING_BUDGET  # tokens of those passages the prompt reads
    max_answer_tokens: int = 512
    temperature: float = 0.1
    use_rag: bool = True
    adapter: str | None = None  # adapter name or .gguf path
    documents: tuple[str, ...] = ()
    # The model first chooses the sentences that answer, then answers from them alone
    # (evidence_select.py); off: one prompt with the sentence windows as numbered sources.
    evidence_first: bool = False

    def __post_init__(self):
        check_passages(self.passages)
        check_temperature(self.temperature)
        if not 100 <= self.reading_budget <= 16_000:
            raise InvalidSetting(
                f"the passages' share of the prompt must be 100-16000 tokens "
                f"(got {self.reading_budget})."
            )
        if not 16 <= self.max_answer_tokens <= 4096:
            raise InvalidSetting(
                f"the answer length must be 16-4096 tokens (got {self.max_answer_tokens})."
            )


_BRACKETED = re.compile(r"\[[^\]]*\]|【[^】]*】")


def _has_content(text: str) -> bool:
    """Whether an answer says anything beyond (possibly malformed) citation markers."""
    return len(re.findall(r"\w", _BRACKETED.sub("", text))) >= 2


class Answerer:
    """Grounded answers over one KnowledgeBase with one warm model."""

    def __init__(self, kb, host: LlamaHost, checker_embedder=None):
        self.kb = kb
        self.host = host
        # The citation checker's thresholds were set with the multilingual encoder, which also
        # judges Chinese answers about English documents; MiniLM collections use it too.
        self._checker = checker_embedder

    @property
    def checker(self):
        if self._checker is None:
            self._checker = create_embedder("use-multilingual")
        return self._checker

    # -- public --------------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        *,
        history: Sequence[dict] = (),
        options: AskOptions = AskOptions(),
        on_token: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
        progress: ProgressFn = no_progress,
    ) -> Answer:
        question = (question or "").strip()
        lang = language_of(question)
        if not question:
            return self._refuse(question, say("empty_question", lang))
        if len(question) > MAX_QUESTION_CHARS:
            return self._refuse(
                question,
                say("question_too_long", lang, length=len(question), limit=MAX_QUESTION_CHARS),
            )
        self._apply_adapter(options.adapter)
        if not options.use_rag:
            return self._answer_without_documents(question, history, options, on_token, cancel)
        if not any(d.status == DocStatus.READY for d in self.kb.documents()):
            return self._refuse(question, say("no_documents", lang, collection=self.kb.name))
        task = None if options.documents else find_document_task(question, self.kb.documents())
        if task is not None:  # "summarise X" reads the whole document, not the top passages
            return Summariser(self.kb, self.host).summarise(
                task,
                question,
                temperature=options.temperature,
                progress=progress,
                cancel=cancel,
                on_token=on_token,
            )
        query = self.standalone_question(question, history, cancel) if history else question
        blocks = self.kb.answer_context(query, options.passages, documents=options.documents)
        hits = evidence_windows(
            blocks, query, self.checker, options.reading_budget, self.host.count_tokens
        )
        best = self.kb.best_similarity(query, options.documents)
        floor = relevance_floor(self.kb.manifest.embedder)  # set and explained in embed/registry.py
        if not hits or best < floor:
            return self._not_in_documents(question, hits, notice=say("nothing_close", lang))
        missing = self._unmentioned(question, hits)
        if missing:  # a question about something the documents never name
            return self._not_in_documents(
                question, hits, notice=say("never_mentioned", lang, names=_listed(missing))
            )
        evidence: tuple[Evidence, ...] = ()
        try:
            if options.evidence_first:
                chosen = self._evidence_first(question, hits, history, options, on_token, cancel)
                if chosen is None:  # no sentence answers this question: not in your documents
                    closest = self._closest_sentence(question, hits)
                    if closest is not None and closest[3] >= QUOTE_THRESHOLD:
                        return self._quote(question, hits, closest)
                    return self._not_in_documents(question, hits, notice=None)
                checked, plan = chosen
                evidence = evidence_of(plan.sources)
            else:
                plan = build_messages(question, hits, history=history, **self._room(options))
                raw = self._generate(
                    self.host.format_chat(plan.messages), options, on_token, cancel
                )
                checked = check_citations(raw, plan.sources, self.checker, question)
        except InvalidSetting as exc:
            return self._refuse(question, str(exc))
        reasked = None
        if checked.declined or not _has_content(checked.text):
            closest = self._closest_sentence(question, hits)
            if closest is not None:
                reasked = self._reask(question, closest[0], options, cancel)
                if reasked is not None:
                    (checked, plan), evidence = reasked, ()
                elif closest[3] >= QUOTE_THRESHOLD:
                    return self._quote(question, hits, closest)
        if checked.declined or not _has_content(checked.text):
            notice = None if checked.declined else say("no_usable_answer", lang)
            return self._not_in_documents(question, hits, notice=notice)
        wrong = self._other_document(question, checked.citations)
        if wrong:
            recited = self._recited(question, checked, plan.sources)
            if recited is None or self._other_document(question, recited.citations):
                # the passages it came from listed first: one click shows what the other says
                first = _cited_first(hits, checked.citations)
                return self._not_in_documents(question, first, notice=wrong)
            checked = recited
        verdict = None if reasked else self._verdict(question, checked, hits, cancel)
        if verdict is not None and verdict[0] == "doubted_declined":
            return self._not_in_documents(
                question, _cited_first(hits, checked.citations), notice=say(verdict[0], lang)
            )
        extra: str | None
        if verdict is not None:
            key, fields = verdict
            outcome, extra = AnswerOutcome.UNVERIFIED, say(key, lang, **fields)
        else:
            outcome = AnswerOutcome.ANSWERED
            extra = (
                say("unsupported_sentences", lang, count=checked.unsupported)
                if checked.unsupported
                else None
            )
        return Answer(
            question=question,
            answer=checked.text.strip(),
            outcome=outcome,
            citations=checked.citations,
            sentences=checked.sentences,
            nearest=() if outcome is AnswerOutcome.ANSWERED else tuple(hits[:NEAREST]),
            model=self.host.model_name,
            adapter=self._adapter_name(),
            notice=join_notices(plan.notice, extra),
            evidence=evidence,
        )

    def standalone_question(
        self, question: str, history: Sequence[dict], cancel: CancelToken | None = None
    ) -> str:
        """Rewrite a follow-up ("and for the second one?") into a question that stands alone."""
        prompt = self.host.format_chat(rewrite_messages(question, history))
        rewritten = "".join(
            self.host.stream(prompt, max_tokens=96, temperature=0.0, cancel=cancel)
        ).strip()
        rewritten = strip_markers(rewritten).strip().strip('"“”')
        return rewritten.splitlines()[0].strip() if rewritten else question

    # -- steps ---------------------------------------------------------------------------------

    def _generate(self, prompt: str, options: AskOptions, on_token, cancel) -> str:
        pieces: list[str] = []
        for piece in self.host.stream(
            prompt,
            max_tokens=options.max_answer_tokens,
            temperature=options.temperature,
            cancel=cancel,
        ):
            pieces.append(piece)
            if on_token is not None:
                on_token(piece)
        return "".join(pieces)

    def _room(self, options: AskOptions) -> dict:
        """What a prompt is fitted to: the model's tokenizer, context window and answer length."""
        return {
            "count_tokens": self.host.count_tokens,
            "context_window": self.host.n_ctx,
            "answer_budget": options.max_answer_tokens,
        }

    def _evidence_first(
        self, question, hits, history, options: AskOptions, on_token, cancel
    ) -> tuple[CitedAnswer, PromptPlan] | None:
        """The model chooses the sentences that answer (under a grammar), then answers from
        them alone, in one conversation; None when it chooses none, or sentences that lack a
        number the question names (evidence_select.about_this_question)."""
        selection = selection_turn(question, hits, history=history, **self._room(options))
        reply = self.host.complete(
            self.host.format_chat(selection.messages),
            max_tokens=SELECTION_TOKENS,
            temperature=0.0,
            grammar=selection.grammar,
            cancel=cancel,
        )
        chosen = parse_selection(reply, len(selection.candidates.units))
        sources = chosen_sources(selection.candidates, chosen)
        if not sources or not about_this_question(question, sources):
            return None
        messages = answer_turn(question, selection, reply, sources)
        raw = self._generate(self.host.format_chat(messages), options, on_token, cancel)
        checked = check_citations(raw, sources, self.checker, question)
        checked = replace(checked, citations=quote_chosen(checked.citations, sources))
        notice = None
        if selection.omitted:
            notice = say("passages_left_out", language_of(question), count=selection.omitted)
        return checked, PromptPlan(messages, sources, (), 0, notice)

    def _verdict(
        self, question: str, checked: CitedAnswer, hits: Sequence[Hit], cancel
    ) -> tuple[str, dict[str, str]] | None:
        """Why an answer is not shown as verified (a message key and its fields), or None.

        "doubted_declined": the model, shown only the sentences the answer cites (or, citing
        none, the sentence closest to the question), rejects it with odds far below those of
        right answers: the answer is not given. "unverified": the citation checker finds no
        cited sentence that supports it. "restated": it only says yes or no in the question's
        words, which no overlap can verify. "names_unmentioned": the passages it cites never
        name a path, package or address the question asks about. "names_unquoted": it names
        one its cited sentences do not. "doubted_words": its own words are not in the
        sentences it cites. "doubted_by_model": the model doubts those sentences say it
        (answer_check.py). The model is asked only where its odds were measured, and without
        an adapter, which changes them."""
        floors = odds_floors(self.host.model_name)
        odds = None
        if floors is not None and self.host.adapter is None:
            odds = self._model_odds(question, checked, hits, cancel)
            if odds is not None and odds < floors.decline:
                return "doubted_declined", {}
        if not checked.supported:
            return "unverified", {}
        if restates(checked.text, question):
            return "restated", {}
        for key, names in (
            ("names_unmentioned", names_unmentioned(question, checked.citations)),
            ("names_unquoted", names_unquoted(checked.text, question, checked.citations)),
        ):
            if names:
                return key, {"names": _listed(names)}
        if words_unquoted(checked.text, question, checked.citations):
            return "doubted_words", {}
        if odds is not None and floors is not None and odds < floors.doubt:
            return "doubted_by_model", {}
        return None

    def _model_odds(
        self, question: str, checked: CitedAnswer, hits: Sequence[Hit], cancel
    ) -> float | None:
        """The model's yes-odds that the sentences an answer rests on say it and answer the
        question; None where there are no sentences to show it."""
        sentences = quoted(checked.citations)
        if not sentences:
            closest = self._closest_sentence(question, hits)
            if closest is None:
                return None
            hit, a, b, _ = closest
            sentences = [hit.text[a:b]]
        prompt = self.host.format_chat(check_messages(question, checked.text, sentences))
        return self.host.choice_odds(prompt, YES, NO, cancel=cancel)

    def _unmentioned(self, question: str, hits: Sequence[Hit]) -> list[str]:
        """Names in the question that no passage of the collection holds (on the development
        corpora: 7 of 40 unanswerable questions, no answerable one). Not judged for an English
        question when Chinese passages answer it: their names are written in Chinese."""
        if not has_cjk(question) and any(has_cjk(hit.text) for hit in hits):
            return []
        return self.kb.unmentioned(question, [hit.text for hit in hits])

    def _recited(
        self, question: str, checked: CitedAnswer, sources: Sequence[Hit]
    ) -> CitedAnswer | None:
        """The answer checked again without the documents it cited, when the other sources
        support it (None otherwise): look-alike versions share most clauses word for word, and
        the version the question asks about may state the same sentence (the check then moves
        the citation to it). The other sources are judged whole: a sentence read once in the
        cited version was left out of their windows as a repeat."""
        cited = {c.doc_id for c in checked.citations}
        kept = [
            replace(h, text="", excerpt="", context_before="", context_after="")
            if h.doc_id in cited
            else replace(h, excerpt="")
            for h in sources
        ]
        again = check_citations(checked.text, kept, self.checker, question)
        moved = again.supported and not (cited & {c.doc_id for c in again.citations})
        return again if moved else None

    def _other_document(self, question: str, citations: Sequence[Citation]) -> str | None:
        """Why an answer is not one, when it cites none of the documents the question asks
        about: another version (EUPL v1.1's appendix answered from v1.2's), a look-alike told
        apart by a word (the Bookworm manual's figure asked, the Bullseye one's given) or
        another document than one named outright: the words match, the document does not."""
        cited = {c.doc_id for c in citations}
        documents = ", ".join(dict.fromkeys(c.document for c in citations))
        lang = language_of(question)
        versions = self.kb.other_version(question, cited)
        if versions:
            return say("other_version", lang, documents=documents, versions=" / ".join(versions))
        asked = self.kb.other_document(question, cited)
        if asked:
            return say("other_document", lang, documents=documents, asked=", ".join(asked))
        return None

    def _answer_without_documents(self, question, history, options, on_token, cancel) -> Answer:
        raw = self._generate(
            self.host.format_chat(no_rag_messages(question, history)), options, on_token, cancel
        )
        text = strip_markers(raw.replace(NOT_IN_DOCUMENTS, "")).strip()
        lang = language_of(question)
        return Answer(
            question=question,
            answer=text or say("no_answer", lang),
            outcome=AnswerOutcome.WITHOUT_DOCUMENTS,
            model=self.host.model_name,
            adapter=self._adapter_name(),
            notice=say("without_documents", lang),
        )

    def _closest_sentence(
        self, question: str, hits: Sequence[Hit]
    ) -> tuple[Hit, int, int, float] | None:
        """The sentence of the top passages that matches the question best: its passage, span
        and score (support.py's word + meaning score); None when the passages have no text."""
        top = hits[:QUOTE_PASSAGES]
        found = closest_sentence(
            [hit.text for hit in top], question, self.checker, usable=lambda s: not furniture(s)
        )
        if found is None:
            return None
        i, a, b, score = found
        return top[i], a, b, score

    def _reask(self, question: str, hit: Hit, options: AskOptions, cancel):
        """After a decline, one more try with the passage closest to the question alone and a
        prompt that cannot decline; kept, up to its first unsupported sentence, only when the
        citation checker finds that much supported and every last check (_verdict) passes it.

        A small model declines many questions whose answer it was shown, among six long
        passages (bench/RESULTS.md, "Quality on real documents"); one passage and no way out
        make it answer, and the checker throws the answer away when the passage does not back it.
        Forced on, it adds a claim of its own after the sentence that answers ("This is stated
        in section 8 of the constitution."): that sentence and those after it are dropped.
        (Reading the closest sentences of every passage instead declined fewer answerable
        questions but answered more unanswerable ones: bench/RESULTS.md, "A shorter re-ask,
        measured and not kept".)
        """
        try:
            plan = build_messages(
                question,
                [replace(hit, excerpt="")],  # the whole passage around its closest sentence
                count_tokens=self.host.count_tokens,
                context_window=self.host.n_ctx,
                answer_budget=REASK_TOKENS,
                system=REASK_SYSTEM_PROMPT,
            )
        except InvalidSetting:
            return None
        raw = self._generate(
            self.host.format_chat(plan.messages),
            replace(options, max_answer_tokens=REASK_TOKENS),
            None,
            cancel,
        )
        checked = check_citations(raw, plan.sources, self.checker, question)
        if checked.unsupported and not checked.declined:
            checked = _supported_lead(checked, plan.sources, self.checker, question)
        if checked.declined or not checked.supported or checked.unsupported:
            return None
        if not _has_content(checked.text):
            return None
        # Forced to answer, a model says yes to what it cannot find, or names what the
        # passage names for something else: shown only if every check verifies it.
        if self._verdict(question, checked, [hit], cancel) is not None:
            return None
        return checked, plan

    def _quote(self, question: str, hits: Sequence[Hit], closest) -> Answer:
        """The closest sentence, quoted and labelled as a quotation, not an answer: a reader
        judges a quotation at a glance."""
        hit, a, b, _ = closest
        quote = hit.text[a:b]
        lang = language_of(question)
        citation = replace(citation_of(1, hit), quote=quote, quote_spans=((a, b),))
        return Answer(
            question=question,
            answer=f"{say('closest_passage', lang)} “{quote}” [1]",
            outcome=AnswerOutcome.QUOTED,
            citations=(citation,),
            nearest=tuple(hits[:NEAREST]),
            model=self.host.model_name,
            adapter=self._adapter_name(),
            notice=say("quoted_notice", lang),
        )

    def _not_in_documents(self, question: str, hits: Sequence[Hit], notice: str | None) -> Answer:
        return Answer(
            question=question,
            answer=say("declined", language_of(question)),
            outcome=AnswerOutcome.NOT_IN_DOCUMENTS,
            nearest=tuple(hits[:NEAREST]),
            model=self.host.model_name,
            adapter=self._adapter_name(),
            notice=notice,
        )

    def _refuse(self, question: str, reason: str) -> Answer:
        return Answer(
            question=question,
            answer=reason,
            outcome=AnswerOutcome.REFUSED,
            model=self.host.model_name,
        )

    # -- adapters ------------------------------------------------------------------------------

    def _apply_adapter(self, adapter: str | None) -> None:
        if not adapter:
            self.host.set_adapter(None)
            return
        path = resolve_adapter(self.kb.paths.adapters_dir, adapter)
        check_base(path, self.host.model_path)
        self.host.set_adapter(path, key=adapter_key(path, self.kb.name, self.kb.key))

    def _adapter_name(self) -> str | None:
        current = self.host.adapter
        return adapter_name(current[0]) if current else None


def _supported_lead(
    checked: CitedAnswer, sources: Sequence[Hit], checker, question: str
) -> CitedAnswer:
    """The answer's sentences up to its first unsupported one, checked again; unchanged when
    its first sentence is unsupported."""
    lead = list(itertools.takewhile(lambda s: s.supported, checked.sentences))
    if not lead:
        return checked
    return check_citations(" ".join(s.text for s in lead), sources, checker, question)


def _listed(names: Sequence[str]) -> str:
    """Names as a notice lists them: “master.debian.org”, “Pre-Depends”."""
    return ", ".join(f"“{name}”" for name in names)


def _cited_first(hits: Sequence[Hit], citations: Sequence[Citation]) -> list[Hit]:
    """The passages an answer cited, listed first: one click shows what they say."""
    cited = {c.chunk_id for c in citations}
    return sorted(hits, key=lambda hit: hit.chunk_id not in cited)


def open_host(folders: ModelFolders, model: str | None = None) -> LlamaHost:
    """The host for the chosen model (by name or path), or the default one."""
    return LlamaHost(ModelRegistry(folders).chosen(model).path)


__all__ = ["AskOptions", "Answerer", "KbdeskError", "open_host", "resolve_adapter"]
