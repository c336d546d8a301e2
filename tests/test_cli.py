"""The command-line contract of ../shared/design.md: ingest, search --json, list, remove, exit codes."""

from __future__ import annotations

import json
import os
import shutil

import pymupdf
import pytest

from kbdesk.cli import main
from kbdesk.core.generate import cpu_floor
from tests.helpers import LEASE_PAGES, ZH_PAGES, make_pdf


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def bad_folder(tmp_path, docs_dir):
    folder = docs_dir
    bad = folder / "bad"
    bad.mkdir()
    good = make_pdf(tmp_path / "src.pdf", ["Some text to encrypt."])
    doc = pymupdf.open(good)
    doc.save(
        bad / "locked.pdf",
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        user_pw="s3cret",
        owner_pw="s3cret",
    )
    full = (docs_dir / "lease.pdf").read_bytes()
    (bad / "truncated.pdf").write_bytes(full[: len(full) // 3])
    empty = pymupdf.open()
    empty.new_page()
    empty.save(bad / "blank.pdf")
    png = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 8, 8), False)
    (bad / "picture.pdf").write_bytes(png.tobytes("png"))
    (bad / "notes.txt").write_bytes("合同编号：HT-2024-118，付款期限为三十日。".encode("gb18030"))
    (bad / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    (bad / "zero.pdf").write_bytes(b"")
    shutil.copy(docs_dir / "lease.pdf", bad / "lease-copy.pdf")
    unreadable = bad / "private.pdf"
    make_pdf(unreadable, ["secret"])
    os.chmod(unreadable, 0)
    yield folder
    os.chmod(unreadable, 0o644)


def test_ingest_reports_each_bad_file_by_name_and_imports_the_rest(
    capsys, data_dir, bad_folder, tmp_path
):
    weird = tmp_path / "table.xyz"
    weird.write_text("a,b")
    code, out, err = run(capsys, "--data-dir", str(data_dir), "ingest", str(bad_folder), str(weird))
    assert code == 1
    text = out + err
    assert "Traceback" not in text
    expected = {
        "locked.pdf": "password",
        "truncated.pdf": "",
        "blank.pdf": "",
        "picture.pdf": "PNG",
        "binary.txt": "binary",
        "zero.pdf": "empty",
        "table.xyz": ".xyz",
    }
    if os.geteuid() != 0:  # root reads any file
        expected["private.pdf"] = "permission"
    lines = out.splitlines()
    for name, reason in expected.items():
        line = next((ln for ln in lines if name in ln), None)
        assert line is not None, f"{name} not reported"
        assert reason.lower() in line.lower(), line
    skipped = [ln for ln in lines if ln.strip().startswith("skipped")]
    assert len(skipped) == 1 and "same content as" in skipped[0], (
        "one of two identical files is skipped"
    )
    assert "lease" in skipped[0].split("same content as")[1]
    assert "Summary:" in out
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "list", "--json")
    docs = {d["name"]: d for d in json.loads(out)}
    for name in ("hypertension.pdf", "术后护理须知.pdf", "notes.txt"):
        assert docs[name]["status"] == "ready", docs[name]
    assert docs["locked.pdf"]["status"] == "failed" and "password" in docs["locked.pdf"]["error"]
    assert ("lease.pdf" in docs) != ("lease-copy.pdf" in docs), "the duplicate is not indexed twice"


def test_search_json_contract_and_modes(capsys, data_dir, docs_dir):
    assert run(capsys, "--data-dir", str(data_dir), "ingest", str(docs_dir))[0] == 0
    for mode in ("hybrid", "dense", "keyword"):
        code, out, _ = run(
            capsys,
            "--data-dir",
            str(data_dir),
            "search",
            "security deposit returned",
            "-k",
            "3",
            "--mode",
            mode,
            "--json",
        )
        assert code == 0
        hits = json.loads(out)
        assert 1 <= len(hits) <= 3
        assert set(hits[0]) == {
            "rank",
            "score",
            "document",
            "path",
            "page",
            "section",
            "text",
            "chunk_id",
        }
        assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
        assert (hits[0]["document"], hits[0]["page"]) == ("lease.pdf", 3)
        assert os.path.isabs(hits[0]["path"]) and "deposit" in hits[0]["text"]
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "search", "伤口发红怎么办", "--json")
    assert json.loads(out)[0]["document"] == "术后护理须知.pdf" and json.loads(out)[0]["page"] == 2


def test_second_ingest_reembeds_nothing(capsys, data_dir, docs_dir):
    run(capsys, "--data-dir", str(data_dir), "ingest", str(docs_dir))
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "ingest", str(docs_dir), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["counts"]["unchanged"] == 3 and sum(r["embedded"] for r in report["results"]) == 0


def test_remove_list_and_collections(capsys, data_dir, docs_dir):
    run(capsys, "--data-dir", str(data_dir), "--collection", "cases", "ingest", str(docs_dir))
    code, out, _ = run(
        capsys,
        "--data-dir",
        str(data_dir),
        "--collection",
        "cases",
        "remove",
        str(docs_dir / "lease.pdf"),
        "missing.pdf",
    )
    assert code == 1 and "removed" in out and "not in collection" in out
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "--collection", "cases", "list")
    assert "lease.pdf" not in out and "hypertension.pdf" in out
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "collections", "--json")
    assert json.loads(out) == ["cases"]


def test_errors_are_one_line_without_traceback(capsys, data_dir, tmp_path):
    code, _, err = run(capsys, "--data-dir", str(data_dir), "search", "anything")
    assert code == 1 and "no collection named 'default'" in err and "Traceback" not in err
    code, _, err = run(capsys, "--data-dir", str(data_dir), "ingest", str(tmp_path / "nowhere"))
    assert code == 1


def test_kbdesk_home_environment_variable_sets_the_data_dir(capsys, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("KBDESK_HOME", str(home))
    make_pdf(tmp_path / "one.pdf", LEASE_PAGES[:1])
    make_pdf(tmp_path / "zh.pdf", ZH_PAGES[:1], cjk=True)
    code, _, _ = run(capsys, "ingest", str(tmp_path / "one.pdf"), str(tmp_path / "zh.pdf"))
    assert code == 0 and (home / "collections" / "default" / "catalog.sqlite3").is_file()


def _save_settings(data_dir, **values):
    from dataclasses import replace

    from kbdesk.core.paths import AppPaths
    from kbdesk.core.settings import SettingsStore

    store = SettingsStore(AppPaths.resolve(data_dir).config_dir)
    store.save(replace(store.load(), **values))


def test_ask_honours_the_saved_settings_and_its_flags_override_them(
    capsys,
    data_dir,
    docs_dir,
    small_model,
    tmp_path,
):
    _save_settings(data_dir, model=str(small_model), passages=2, temperature=0.0, collection="law")
    assert run(capsys, "--data-dir", str(data_dir), "ingest", str(docs_dir))[0] == 0
    assert (data_dir / "collections" / "law").is_dir()  # the window's last collection
    question = "When is the security deposit returned?"
    code, out, err = run(capsys, "--data-dir", str(data_dir), "ask", question, "--json")
    first = json.loads(out)
    assert code == 0 and first["outcome"] in ("answered", "unverified", "not_in_documents")
    assert first["supported"] == (first["outcome"] == "answered")
    code, out, err = run(capsys, "--data-dir", str(data_dir), "ask", question, "--passages", "31")
    assert code == 1 and "Passages per answer must be 1-30 (got 31)" in err
    missing = str(tmp_path / "nowhere.gguf")
    code, out, err = run(capsys, "--data-dir", str(data_dir), "ask", question, "--model", missing)
    assert code == 1 and "nowhere.gguf" in err and "--model" in err and "Settings" not in err


def test_ask_on_a_fresh_data_folder_finds_the_per_user_model_and_continues_a_chat(
    capsys, data_dir, docs_dir, small_model, own_user_folders
):
    """`make run` assembles the default model into the per-user folder: a new --data-dir (a
    case kept on an encrypted drive) answers with it, without any setting."""
    per_user = own_user_folders / "kbdesk" / "models"
    per_user.mkdir(parents=True)
    (per_user / small_model.name).symlink_to(small_model)
    _save_settings(data_dir, temperature=0.0)
    run(capsys, "--data-dir", str(data_dir), "ingest", str(docs_dir))
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "models")
    assert f"{per_user}  (per-user)" in out and f"{per_user / small_model.name}  (default)" in out
    base = ["--data-dir", str(data_dir), "ask"]
    code, out, _ = run(capsys, *base, "How much is the deposit?", "--chat", "new", "--json")
    assert code == 0 and json.loads(out)["model"] == small_model.stem
    chat = json.loads(out)["chat"]
    code, out, _ = run(capsys, *base, "When is it returned?", "--chat", chat, "--json")
    assert code == 0 and json.loads(out)["chat"] == chat
    from kbdesk.core.generate.chats import ChatStore

    turns = ChatStore(data_dir / "collections" / "default").load(chat)
    assert [t["question"] for t in turns] == ["How much is the deposit?", "When is it returned?"]
    # in the terminal each source line quotes the sentence(s) supporting the answer
    code, out, _ = run(capsys, *base, "How much is the deposit?", "--chat", chat)
    [*_, last] = ChatStore(data_dir / "collections" / "default").answers(chat)
    assert code == 0 and last.citations
    for c in last.citations:
        quote = " ".join(c.quote.split())
        assert quote and f"[{c.n}] {c.document}, page {c.page}: {quote}\n" in out


def test_about_says_where_kbdesk_runs_from_and_keeps_its_data(capsys, data_dir):
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "about", "--json")
    facts = json.loads(out)
    assert code == 0 and facts["installed"] is False and facts["data_dir"] == str(data_dir)
    assert facts["model_dirs"][-1] == str(data_dir / "models") and facts["sys_path"]
    cpu = facts["llama_cpp_cpu_library"]
    assert cpu["variant"] in cpu_floor.SHIPPED and cpu["path"].endswith(f"-{cpu['variant']}.so")
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "about")
    assert code == 0 and "from source" in out and str(data_dir) in out
    assert f"runs {cpu['variant']}" in out
