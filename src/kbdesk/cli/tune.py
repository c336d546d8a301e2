"""`kbdesk tune`, `kbdesk eval` and `kbdesk adapters`: train, compare and manage LoRA adapters."""

from __future__ import annotations

import json
import sys
import time

from kbdesk.cli.common import EXIT_FAILED, EXIT_OK, open_collection, settings_for

POLL_SECONDS = 2.0


def _follow(job, process) -> int:
    """Prints each new state of the job until its process ends; Ctrl+C stops it safely."""
    from kbdesk.core.tune import training

    last = ""
    try:
        while process.poll() is None:
            line = job.status(running=True).describe()
            if line != last:
                print(line, flush=True)
                last = line
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        print("\nStopping at the next safe point…", file=sys.stderr, flush=True)
        training.stop(process)
    final = job.status(running=False)
    print(final.describe())
    if final.resumable:
        print(f"Resume with: kbdesk tune --resume {final.name}")
    if final.message:
        print(f"Details: {job / training.LOG_FILE}", file=sys.stderr)
    return EXIT_OK if final.state == "done" else EXIT_FAILED


def _status(args, paths) -> int:
    """`--status NAME`: the job's state as the window shows it (read from its folder and the
    process table, so it sees a training another program started)."""
    from kbdesk.core.tune import training

    job = training.job_folder(paths, args.status)
    if not job.exists():
        print(f"kbdesk: there is no training called '{args.status}'.", file=sys.stderr)
        return EXIT_FAILED
    status = job.status()
    if args.json:
        data = {
            "name": status.name,
            "state": str(status.state),
            "stage": status.stage,
            "done": status.done,
            "total": status.total,
            "pid": job.running_pid(),
            "text": status.describe(),
        }
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(status.describe())
    return EXIT_OK


def cmd_tune(args) -> int:
    from kbdesk.core.paths import AppPaths
    from kbdesk.core.tune import training
    from kbdesk.core.tune.settings import TuneSettings

    paths = AppPaths.resolve(args.data_dir)
    if args.status:
        return _status(args, paths)
    if args.stop:
        job = training.job_folder(paths, args.stop)
        if not job.request_stop():
            print(f"kbdesk: no training called '{args.stop}' is running.", file=sys.stderr)
            return EXIT_FAILED
        print(f"Asked '{args.stop}' to stop at its next safe point (it can be resumed).")
        return EXIT_OK
    if args.resume:
        job = training.job_folder(paths, args.resume)
        key = _job_key(args, job)
        job, process = training.resume(paths, args.resume, key)
        print(f"Resuming '{args.resume}' where it stopped.")
        return _follow(job, process)
    kb = open_collection(args, create=False)
    collection, key = kb.name, kb.key
    kb.close()
    defaults = TuneSettings()
    rank = args.rank or defaults.rank
    request = training.training_request(
        paths,
        collection,
        model=args.model or settings_for(args).model,
        name=args.name,
        settings=TuneSettings(
            rank=rank,
            alpha=args.alpha or 2 * rank,
            batch=args.batch or defaults.batch,
            learning_rate=args.learning_rate or defaults.learning_rate,
            save_every=args.save_every or defaults.save_every,
            max_tokens=args.max_tokens or defaults.max_tokens,
        ),
        steps=args.steps,
        passages=args.passages,
        train_pairs=args.questions,
        eval_pairs=args.eval_questions,
        replace=args.replace,
    )
    job = training.create_job(paths, request, key)
    print(
        f"Training adapter '{request.name}' for {request.model_name} on collection "
        f"'{collection}' (in the background process; its log: {job / training.LOG_FILE})."
    )
    return _follow(job, training.start(job, key))


def _job_key(args, job) -> bytes | None:
    """The key of an unfinished job's encrypted collection (asked for like any command's)."""
    from argparse import Namespace

    if not job.exists() or not job.spec().encrypted:
        return None
    spec = job.spec()
    scoped = Namespace(**{**vars(args), "collection": spec.collection, "settings": None})
    with open_collection(scoped, create=False) as kb:
        return kb.key


def cmd_eval(args) -> int:
    from kbdesk.core.assistant import ModelCache
    from kbdesk.core.evaluate.report import text_report
    from kbdesk.core.evaluate.run import run_evaluation
    from kbdesk.core.paths import AppPaths

    settings = settings_for(args)
    adapter = args.adapter or settings.adapter
    if not adapter:
        print(
            "kbdesk: name the adapter to evaluate (--adapter NAME; see kbdesk adapters).",
            file=sys.stderr,
        )
        return EXIT_FAILED
    kb = open_collection(args, create=False)
    models = ModelCache(AppPaths.resolve(args.data_dir).model_dirs)
    try:
        host = models.host(args.model or settings.model)

        def progress(p):
            if not args.json:
                print(f"\r{p.item}: {p.done}/{p.total}", end="", file=sys.stderr, flush=True)

        result, report = run_evaluation(
            kb,
            host,
            adapter,
            passages=args.passages or settings.passages,
            limit=args.limit,
            progress=progress,
        )
    finally:
        models.close()
        kb.close()
    if args.json:
        data = {k: v for k, v in result.items() if k != "answers" or args.answers}
        data["report"] = str(report) if report else None
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(file=sys.stderr)
        print(text_report(result))
        if report:
            print(f"\nReport: {report}")
        else:  # an encrypted collection's adapter: its result is sealed, with no report file
            print(
                "\n(The report is encrypted with the collection: kbdesk shows it, here and in "
                "the window's Adapters dialog.)"
            )
    return EXIT_OK


def cmd_adapters(args) -> int:
    from kbdesk.core.adapters import list_adapters, remove_adapter, rename_adapter
    from kbdesk.core.paths import AppPaths
    from kbdesk.core.tune import training

    paths = AppPaths.resolve(args.data_dir)
    folder = paths.adapters_dir
    if args.action in ("remove", "rename") and not args.names:
        print(f"kbdesk: {args.action} needs the adapter's name.", file=sys.stderr)
        return EXIT_FAILED
    if args.action == "remove":
        remove_adapter(paths, args.names[0])
        print(f"Removed adapter '{args.names[0]}'.")
        return EXIT_OK
    if args.action == "rename":
        if len(args.names) != 2:
            print("kbdesk: rename needs the old and the new name.", file=sys.stderr)
            return EXIT_FAILED
        rename_adapter(paths, *args.names)
        print(f"Renamed adapter '{args.names[0]}' to '{args.names[1]}'.")
        return EXIT_OK
    found = list_adapters(folder)
    waiting = training.unfinished_jobs(paths)
    if args.json:
        print(
            json.dumps(
                {"adapters": [e.to_json() for e in found], "unfinished": [w.name for w in waiting]},
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    if not found:
        print(f"No adapters yet (folder: {folder}). Train one with: kbdesk tune")
    for e in found:
        meta = e.meta
        loss = meta.final_loss
        print(
            f"{e.name}  (for {meta.base_name}; collection {meta.collection or '?'}; "
            f"{meta.counts.get('training_conversations', '?')} training conversations; "
            f"final loss {loss if loss is not None else '?'})"
        )
        if meta.recommendation:
            print(f"    evaluation: {meta.recommendation}")
    for w in waiting:
        print(f"unfinished: {w.describe()}  (kbdesk tune --resume {w.name})")
    return EXIT_OK


def add_parsers(sub) -> None:
    p = sub.add_parser("tune", help="train a LoRA adapter on the collection (in the background)")
    p.add_argument("--name", help="the adapter's name (default: collection and time)")
    p.add_argument("--questions", help="your own question/answer pairs to train on (CSV or JSONL)")
    p.add_argument("--eval-questions", help="your own evaluation questions (CSV or JSONL)")
    p.add_argument(
        "--passages", type=int, help="passages to write practice questions for (default: 200)"
    )
    p.add_argument("--steps", type=int, help="training steps (default: two passes over the data)")
    p.add_argument("--rank", type=int, help="LoRA rank (default: 16)")
    p.add_argument("--alpha", type=int, help="LoRA alpha (default: twice the rank)")
    p.add_argument("--batch", type=int, help="examples per step (default: 4)")
    p.add_argument("--learning-rate", type=float, help="default: 2e-4")
    p.add_argument("--save-every", type=int, help="steps between checkpoints (default: 10)")
    p.add_argument("--max-tokens", type=int, help="longest training conversation kept")
    p.add_argument("--model", help="the answer model to adapt (default: the one in Settings)")
    p.add_argument("--replace", action="store_true", help="replace an adapter of the same name")
    p.add_argument("--resume", metavar="NAME", help="continue a stopped training")
    p.add_argument("--stop", metavar="NAME", help="stop a running training (it can be resumed)")
    p.add_argument("--status", metavar="NAME", help="say how a training stands")
    p.add_argument("--json", action="store_true", help="with --status: as JSON")

    p = sub.add_parser("eval", help="compare base model, RAG, adapter and RAG + adapter")
    p.add_argument("--adapter", help="adapter to evaluate (default: the one in Settings)")
    p.add_argument("--model", help="answer model (default: the one in Settings)")
    p.add_argument("--passages", type=int, help="passages per answer (default: from Settings)")
    p.add_argument("--limit", type=int, help="evaluate on at most N of the held-out questions")
    p.add_argument("--json", action="store_true")
    p.add_argument("--answers", action="store_true", help="with --json: every answer too")

    p = sub.add_parser("adapters", help="list, rename or remove adapters")
    p.add_argument("action", nargs="?", choices=["list", "rename", "remove"], default="list")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--json", action="store_true")


COMMANDS = {"tune": cmd_tune, "eval": cmd_eval, "adapters": cmd_adapters}
