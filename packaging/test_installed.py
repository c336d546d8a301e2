"""The installer's smoke test (`make package-test`): installs the built packages into a fresh root
and runs the installed program as a user would, with nothing of the checkout or its virtual
environment in reach.

The packages are unpacked with `dpkg-deb -x` into a temporary root (no root rights needed; the
files are those `dpkg -i` would install). Every run of the installed program gets a scrubbed
environment (`env -i`, a new HOME, PATH=/usr/bin:/bin) and no network where `unshare -n` works.
Checked: --version; `about` (sys.path inside the installation); ingest of a generated English and
Chinese PDF; search --json; ask --json with the packaged default model (the known fact, the
right page); a collection shared on a real PostgreSQL + pgvector and searched by a second login;
the window under Xvfb (its screenshot: docs/screenshots/08-installed.png); with the
training package, a one-step adapter training stopped, resumed and installed. No file of the checkout or its virtual
environment may appear in /proc/<pid>/maps of any run. Prints the figures bench/RESULTS.md keeps
(cold start to a usable window, first answer token, installed size).

This driver runs under the checkout's Python; only the program under test is the installed one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.core.generate.conftest import SMALL_FILE, shared_models_dir  # noqa: E402
from tests.helpers import LEASE_PAGES, ZH_PAGES, leaks, make_pdf  # noqa: E402

PACKAGES = ROOT / "build" / "out" / "packages"
SCREENSHOT = ROOT / "docs" / "screenshots" / "08-installed.png"
QUESTION = "When is the security deposit returned?"
CHINESE_QUERY = "术后多久可以洗澡？"
# Paths the installed program must never load from.
FORBIDDEN = (str(ROOT), sys.prefix)


class Failure(AssertionError):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failure(what)
    print(f"  ok  {what}")


class Installed:
    """The packages unpacked into `root`, and scrubbed runs of the installed program."""

    def __init__(self, work: Path, debs: list[Path]):
        self.work = work
        self.root = work / "root"
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(self.root)], check=True)
        self.program = self.root / "opt" / "kbdesk" / "kbdesk"
        self.home = work / "home"
        self.home.mkdir()
        self.data = work / "data"
        self.no_network = (
            ["unshare", "-n"] if subprocess.run(["unshare", "-n", "true"]).returncode == 0 else []
        )
        self.leaks: set[str] = set()
        self.observed = 0  # maps read that show the installation: the watch does see

    def env(self, **extra: str) -> list[str]:
        values = {"HOME": str(self.home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **extra}
        return ["env", "-i", *(f"{k}={v}" for k, v in values.items())]

    def command(self, *args: str, program: Path | None = None, **env: str) -> list[str]:
        return [
            *self.env(**env),
            *self.no_network,
            str(program or self.program),
            *args,
        ]

    def watch(self, proc: subprocess.Popen) -> threading.Thread:
        """Collect any forbidden path mapped into the process while it runs."""

        def poll() -> None:
            maps = Path(f"/proc/{proc.pid}/maps")
            while proc.poll() is None:
                try:
                    text = maps.read_text()
                except OSError:
                    break
                self.leaks |= {
                    line.split()[-1]
                    for line in text.splitlines()
                    if any(bad in line for bad in FORBIDDEN)
                }
                self.observed += str(self.root) in text
                time.sleep(0.05)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        return thread

    def run(
        self, *args: str, timeout: float = 600, program: Path | None = None, **env: str
    ) -> tuple[subprocess.CompletedProcess, float]:
        started = time.monotonic()
        proc = subprocess.Popen(
            self.command(*args, program=program, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        watcher = self.watch(proc)
        out, err = proc.communicate(timeout=timeout)
        watcher.join()
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if done.returncode != 0:
            raise Failure(f"kbdesk {' '.join(args)} exited {done.returncode}:\n{out}\n{err}")
        return done, time.monotonic() - started

    def first_answer_token(
        self, question: str, *extra: str, program: Path | None = None, **env: str
    ) -> float:
        """Seconds from a fresh start of `kbdesk ask` to the first character of the answer."""
        started = time.monotonic()
        proc = subprocess.Popen(
            self.command(
                "--data-dir", str(self.data), "ask", question, *extra, program=program, **env
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        first = proc.stdout.read(1)
        seconds = time.monotonic() - started
        proc.communicate(timeout=600)
        check(bool(first) and proc.returncode == 0, "a streamed answer from a fresh start")
        return seconds


def window(installed: Installed, shot: Path, program: Path | None = None) -> float:
    """Start the installed window (or `program`) on a virtual screen; seconds until it first
    painted."""
    display = f":{70 + os.getpid() % 200}"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        started = time.time()
        proc = subprocess.Popen(
            installed.command(
                "--data-dir",
                str(installed.data),
                program=program,
                DISPLAY=display,
                KBDESK_SMOKE_SCREENSHOT=str(shot),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        watcher = installed.watch(proc)
        out, _ = proc.communicate(timeout=180)
        watcher.join()
        ready = [line for line in out.splitlines() if line.startswith("kbdesk-window-ready ")]
        check(proc.returncode == 0 and bool(ready), f"the window opened and closed ({out[-300:]})")
        check(shot.is_file() and shot.stat().st_size > 20_000, f"a screenshot of it ({shot.name})")
        return float(ready[0].split()[1]) - started
    finally:
        xvfb.terminate()
        xvfb.wait()


def encrypted(installed: Installed, docs: Path) -> None:
    """An encrypted collection made, filled, searched and reopened by the installed program
    (SQLCipher, Argon2id and the key store as it bundles them): refused without its passphrase,
    and no file of it holds the documents' words."""
    secret = installed.work / "passphrase.txt"
    secret.write_text("harbor point lease files\n")
    secret.chmod(0o600)
    where = ("--data-dir", str(installed.data), "--collection", "Sealed")
    unlocked = (*where, "--passphrase-file", str(secret))
    done, seconds = installed.run(*unlocked, "create", "Sealed")
    check(
        "Created encrypted collection 'Sealed'" in done.stdout and "Recovery key" in done.stdout,
        f"create an encrypted collection ({seconds:.1f} s)",
    )
    done, _ = installed.run(*unlocked, "ingest", str(docs))
    check("Summary: 2 imported." in done.stdout, "ingest into the encrypted collection")
    done, seconds = installed.run(*unlocked, "search", CHINESE_QUERY, "--json")
    top = json.loads(done.stdout)[0]
    check(
        (top["document"], top["page"]) == ("术后护理须知.pdf", 2),
        f"reopened with its passphrase, search finds the same page ({seconds:.1f} s)",
    )
    refused = subprocess.run(
        installed.command(*where, "list"), capture_output=True, text=True, timeout=120
    )
    check(
        refused.returncode == 1 and "--passphrase-file" in refused.stderr,
        f"without its passphrase it stays locked: {refused.stderr.strip()!r}",
    )
    done, _ = installed.run(*unlocked, "unlock", "--remember")
    check("key store" in done.stdout, f"unlock --remember: {done.stdout.strip()!r}")
    found = leaks(installed.data / "collections" / "Sealed")
    check(not found, f"no file of the encrypted collection holds the documents' words {found}")


def shared(installed: Installed, docs: Path) -> None:
    """The installed program prepares a real PostgreSQL + pgvector (the tests' throwaway server,
    started from the checkout's environment: only the program under test is the installed one),
    uploads its collection, grants a second login, which searches it, removes a document and adds
    it again from its file."""
    import pgserver
    import psycopg

    folder = Path(tempfile.mkdtemp(prefix="kbdesk-pg-"))
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        url = f"postgresql://postgres@/postgres?host={folder}"
        reader = f"postgresql://reader@/postgres?host={folder}"
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE ROLE reader LOGIN")
        done, _ = installed.run("server", "init", url)
        check("Prepared" in done.stdout, f"server init: {done.stdout.strip()}")
        base = ("--data-dir", str(installed.data), "server", "--server")
        done, seconds = installed.run(*base, url, "push", "default", "--as", "practice")
        check(
            "2 added" in done.stdout,
            f"server push uploads the collection ({seconds:.1f} s): {done.stdout.strip()}",
        )
        installed.run(*base, url, "grant", "practice", "reader", "--read")
        done, _ = installed.run(*base, reader, "search", "practice", CHINESE_QUERY, "--json")
        top = json.loads(done.stdout)[0]
        check(
            (top["document"], top["page"]) == ("术后护理须知.pdf", 2),
            f"a second login searches the shared collection ({top['document']} p{top['page']})",
        )
        done, _ = installed.run(*base, url, "remove", "practice", "术后护理须知.pdf")
        done, _ = installed.run(*base, reader, "search", "practice", CHINESE_QUERY, "--json")
        left = {hit["document"] for hit in json.loads(done.stdout)}
        check("术后护理须知.pdf" not in left, f"server remove takes a document out ({left})")
        done, seconds = installed.run(*base, url, "add", "practice", str(docs / "术后护理须知.pdf"))
        done, _ = installed.run(*base, reader, "search", "practice", CHINESE_QUERY, "--json")
        top = json.loads(done.stdout)[0]
        check(
            top["document"] == "术后护理须知.pdf",
            f"server add reads a file here and uploads it ({seconds:.1f} s; found by the reader)",
        )
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def pipelines(job: Path) -> list[int]:
    """The pids of training processes working on `job` (the training package's program)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"kbdesk-train") and str(job).encode() in args:
            found.append(int(cmdline.parent.name))
    return found


def train(installed: Installed, model: Path) -> None:
    """The training package through the installed program: a training started, stopped from
    another command (as the window's Stop does: by the job's recorded process), its status,
    a resume that a second resume cannot double, and the adapter installed."""
    data = ["--data-dir", str(installed.data)]
    job = installed.data / "tuning" / "smoke"

    def status() -> dict:
        done, _ = installed.run(*data, "tune", "--status", "smoke", "--json")
        return json.loads(done.stdout)

    def follow(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            installed.command(*data, "tune", *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        installed.watch(proc)
        return proc

    started = time.monotonic()
    first = follow(
        "--name", "smoke", "--passages", "2", "--steps", "1", "--batch", "1", "--model", str(model)
    )
    deadline = time.monotonic() + 300
    while first.poll() is None and time.monotonic() < deadline:
        if (job / "pid").is_file() and status()["state"] == "running":
            break
        time.sleep(0.5)
    check(first.poll() is None and status()["state"] == "running", "the training started")
    check(status()["pid"] in pipelines(job), "the status names the training package's process")
    installed.run(*data, "tune", "--stop", "smoke")
    out, _ = first.communicate(timeout=300)
    now = status()
    check(
        now["state"] == "stopped" and "was stopped" in out and not pipelines(job),
        f"Stop ended the installed trainer; the status says stopped ({now['text']})",
    )
    second = follow("--resume", "smoke")
    deadline = time.monotonic() + 120
    while not pipelines(job) and second.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    check(len(pipelines(job)) == 1, "the resume started its training process")
    twice = subprocess.run(
        installed.command(*data, "tune", "--resume", "smoke"), capture_output=True, text=True
    )
    check(
        twice.returncode != 0 and "already running" in twice.stderr and len(pipelines(job)) == 1,
        "a second resume is refused: exactly one training process",
    )
    out, _ = second.communicate(timeout=1800)
    adapter = installed.data / "adapters" / "smoke" / "adapter.gguf"
    check(
        second.returncode == 0 and adapter.is_file() and status()["state"] == "done",
        f"the resumed training installed its adapter ({time.monotonic() - started:.0f} s)",
    )


def train_encrypted(installed: Installed, model: Path) -> None:
    """A one-step training on the encrypted collection by the installed trainer (the key on its
    stdin), its adapter answering there (opened in memory), and no document word on disk."""
    secret = installed.work / "passphrase.txt"  # written by encrypted()
    sealed = ("--data-dir", str(installed.data), "--collection", "Sealed")
    unlocked = (*sealed, "--passphrase-file", str(secret))
    started = time.monotonic()
    installed.run(
        *unlocked,
        "tune",
        "--name",
        "sealed-smoke",
        "--passages",  # the 0.5B model writes no usable question for some passages (sampled)
        "4",
        "--steps",
        "1",
        "--batch",
        "1",
        "--model",
        str(model),
        timeout=1800,
    )
    adapter = installed.data / "adapters" / "sealed-smoke" / "adapter.gguf"
    check(
        adapter.read_bytes().startswith(b"KBDSEAL"),
        f"the installed trainer trained on the encrypted collection; its adapter is sealed "
        f"({time.monotonic() - started:.0f} s)",
    )
    done, _ = installed.run(
        *unlocked, "ask", QUESTION, "--json", "--model", str(model), "--adapter", "sealed-smoke"
    )
    answer = json.loads(done.stdout)
    check(answer.get("adapter") == "sealed-smoke", "the sealed adapter answers in its collection")
    tokenizers = tuple((installed.data / "tuning").glob("*/tokenizer"))  # the model's vocabulary
    found = leaks(installed.data, skip=(installed.data / "models", *tokenizers))
    found = [f for f in found if "collections/Sealed" in f or "sealed-smoke" in f]
    check(not found, f"no file of the encrypted collection's training holds its words {found}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=Path, default=PACKAGES)
    parser.add_argument("--screenshot", type=Path, default=SCREENSHOT)
    parser.add_argument(
        "--train-model",
        type=Path,
        default=shared_models_dir() / SMALL_FILE,  # the tests' model, assembled by the set-up
        help="a small GGUF model for the training package's check",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary root")
    args = parser.parse_args(argv)

    debs = sorted(args.packages.glob("*.deb"))
    check(any(d.name.startswith("kbdesk_") for d in debs), f"packages in {args.packages}")
    work = Path(tempfile.mkdtemp(prefix="kbdesk-installed-"))
    try:
        installed = Installed(work, debs)
        size = sum(f.stat().st_size for f in installed.root.rglob("*") if f.is_file())
        print(f"installed into {installed.root}: {size / 1e6:,.0f} MB")
        check(
            (installed.root / "usr/bin/kbdesk").is_symlink()
            and (installed.root / "usr/share/applications/kbdesk.desktop").is_file(),
            "kbdesk on the PATH and in the applications menu",
        )
        done, _ = installed.run("--version")
        check(done.stdout.startswith("kbdesk "), f"--version: {done.stdout.strip()}")
        done, _ = installed.run("--data-dir", str(installed.data), "about", "--json")
        facts = json.loads(done.stdout)
        inside = str(installed.root)
        check(facts["installed"], "about: the installed (frozen) program")
        check(
            all(p.startswith(inside) for p in facts["sys_path"]),
            f"sys.path only inside the installation ({facts['sys_path']})",
        )
        check(
            facts["model_dirs"][0] == str(installed.root / "opt/kbdesk/models"),
            "the installation's models folder is searched first",
        )
        cpu = facts["llama_cpp_cpu_library"]
        check(
            bool(cpu["variant"]) and str(cpu["path"]).startswith(inside),
            f"llama.cpp runs its {cpu['variant']} CPU library from the installation ({cpu['path']})",
        )

        docs = work / "documents"
        make_pdf(docs / "lease.pdf", LEASE_PAGES, title="Commercial Lease Agreement")
        make_pdf(docs / "术后护理须知.pdf", ZH_PAGES, cjk=True)
        done, seconds = installed.run("--data-dir", str(installed.data), "ingest", str(docs))
        check(
            "Summary: 2 imported." in done.stdout,
            f"ingest of an English and a Chinese PDF ({seconds:.1f} s)",
        )
        done, _ = installed.run(
            "--data-dir", str(installed.data), "search", CHINESE_QUERY, "--json"
        )
        top = json.loads(done.stdout)[0]
        check(
            (top["document"], top["page"]) == ("术后护理须知.pdf", 2),
            f"search --json finds the Chinese answer on page 2 ({top['document']} p{top['page']})",
        )
        done, seconds = installed.run("--data-dir", str(installed.data), "ask", QUESTION, "--json")
        answer = json.loads(done.stdout)
        pages = {(c["document"], c["page"]) for c in answer["citations"]}
        check(
            "30 days" in answer["answer"] and ("lease.pdf", 3) in pages,
            f"ask --json answers with the packaged model, citing lease.pdf page 3 "
            f"({answer['model']}, {seconds:.1f} s): {answer['answer']!r}",
        )
        first_token = installed.first_answer_token(QUESTION)
        shared(installed, docs)
        encrypted(installed, docs)

        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        starts = [window(installed, args.screenshot) for _ in range(2)]

        trainer = installed.root / "opt/kbdesk/training/kbdesk-train"
        if trainer.is_file():
            train(installed, args.train_model)
            train_encrypted(installed, args.train_model)

        check(
            installed.observed > 0 and not installed.leaks,
            f"nothing loaded from the checkout or its venv ({installed.observed} memory maps "
            f"read; outside: {sorted(installed.leaks)})",
        )
        print("\nFigures (bench/RESULTS.md, 'Installed program'):")
        print(f"  installed size             {size / 1e6:,.0f} MB (all packages)")
        print(f"  window ready, first start  {starts[0]:.2f} s")
        print(f"  window ready, second start {starts[1]:.2f} s")
        print(f"  first answer token, fresh start of `kbdesk ask`  {first_token:.1f} s")
        print("\ninstalled program: all checks passed")
        return 0
    except Failure as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
