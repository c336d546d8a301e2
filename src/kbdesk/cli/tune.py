"""`kbdesk tune`, `kbdesk eval` and `kbdesk adapters`: train, compare and manage LoRA adapters."""

from __future__ import annotations

import json
import sys
import time

from kbdesk.cli.common import EXIT_FAILED, EXIT_OK, open_collection, settings_for

POLL_SECONDS = 2.0


def _model_info(args):
    from kbdesk.core.generate.models import ModelRegistry
    from kbdesk.core.paths import AppPaths

    registry = ModelRegistry(AppPaths.resolve(args.data_dir).model_dirs)
    choice = args.model or settings_for(args).model
    info = registry.get(choice) if choice else registry.default()
    return registry.verify(info)


def _follow(job_dir, process) -> int:
    """Prints each new state of the job until its process ends; Ctrl+C stops it safely."""
    from kbdesk.core.tune import job as jobs

    last = ""
    try:
        while process.poll() is None:
            line = jobs.status(job_dir, running=True).describe()
            if line != last:
                print(line, flush=True)
                last = line
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        print("\nStopping at the next checkpoint…", file=sys.stderr, flush=True)
        jobs.cancel(process)
    final = jobs.status(job_dir, running=False)
    print(final.describe())
    if final.state in ("cancelled", "interrupted"):
        print(f"Resume with: kbdesk tune --resume {final.name}")
    if final.state == "failed":
        print(f"Details: {job_dir / jobs.LOG_FILE}", file=sys.stderr)
    return EXIT_OK if final.state == "done" else EXIT_FAILED


def cmd_tune(args) -> int:
    from kbdesk.core.generate.adapters import model_sha256
    from kbdesk.core.paths import AppPaths
    from kbdesk.core.tune import job as jobs
    from kbdesk.core.tune.settings import TuneSettings

    paths = AppPaths.resolve(args.data_dir)
    if args.resume:
        folder = jobs.jobs_dir(paths) / args.resume
        if not (folder / "job.json").is_file():
            waiting = ", ".join(s.name for s in jobs.unfinished_jobs(paths)) or "none"
            print(
                f"kbdesk: no training called '{args.resume}' to resume (unfinished: {waiting}).",
                file=sys.stderr,
            )
            return EXIT_FAILED
        print(f"Resuming '{args.resume}' from its last checkpoint.")
        return _follow(folder, jobs.start(folder))
    kb = open_collection(args, create=False)
    info = _model_info(args)
    defaults = TuneSettings()
    settings = TuneSettings(
        rank=args.rank or defaults.rank,
        alpha=args.alpha or 2 * (args.rank or defaults.rank),
        steps=args.steps or defaults.steps,
        batch=args.batch or defaults.batch,
        learning_rate=args.learning_rate or defaults.learning_rate,
        save_every=args.save_every or defaults.save_every,
        max_tokens=args.max_tokens or defaults.max_tokens,
    )
    name = args.name or f"{kb.name}-{time.strftime('%Y%m%d-%H%M')}"
    request = jobs.TuneRequest(
        name=name,
        collection=kb.name,
        model=info.path,
        model_name=info.name,
        model_sha256=info.sha256 or model_sha256(info.path),
        settings=settings,
        auto_steps=args.steps is None,
        passages=args.passages or jobs.DEFAULT_PASSAGES,
        train_pairs=args.questions,
        eval_pairs=args.eval_questions,
        replace=args.replace,
    )
    kb.close()
    folder = jobs.create_job(paths, request)
    print(
        f"Training adapter '{name}' for {info.name} on collection '{request.collection}' "
        f"(in the background process; its log: {folder / jobs.LOG_FILE})."
    )
    return _follow(folder, jobs.start(folder))


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
        data["report"] = str(report)
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(file=sys.stderr)
        print(text_report(result))
        print(f"\nReport: {report}")
    return EXIT_OK


def cmd_adapters(args) -> int:
    from kbdesk.core.paths import AppPaths
    from kbdesk.core.tune import job as jobs
    from kbdesk.core.tune.registry import entries, remove_adapter, rename_adapter

    paths = AppPaths.resolve(args.data_dir)
    folder = paths.adapters_dir
    if args.action == "remove":
        remove_adapter(folder, args.names[0])
        print(f"Removed adapter '{args.names[0]}'.")
        return EXIT_OK
    if args.action == "rename":
        if len(args.names) != 2:
            print("kbdesk: rename needs the old and the new name.", file=sys.stderr)
            return EXIT_FAILED
        rename_adapter(folder, *args.names)
        print(f"Renamed adapter '{args.names[0]}' to '{args.names[1]}'.")
        return EXIT_OK
    found = entries(folder)
    waiting = jobs.unfinished_jobs(paths)
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
        counts = e.meta.get("counts") or {}
        loss = (e.meta.get("training") or {}).get("final_loss")
        rec = ((e.meta.get("evaluation") or {}).get("recommendation") or {}).get("text")
        print(
            f"{e.name}  (for {e.base_name}; collection {e.meta.get('collection', '?')}; "
            f"{counts.get('training_conversations', '?')} training conversations; "
            f"final loss {loss if loss is not None else '?'})"
        )
        if rec:
            print(f"    evaluation: {rec}")
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
