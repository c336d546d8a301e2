"""`kbdesk server ...` against the real test server: prepare, upload, grant, status, search,
remove documents (audited), revoke, and the message when no server is set."""

from __future__ import annotations

import json

import psycopg

from kbdesk.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_practice_shares_a_collection_from_the_command_line(
    capsys, data_dir, docs_dir, superuser, new_login
):
    owner, reader = new_login("owner", may_create=True), new_login("reader")
    base = ("--data-dir", str(data_dir))
    code, out, _ = run(capsys, *base, "server", "init", superuser.url)
    assert code == 0 and "already prepared for kbdesk" in out
    assert run(capsys, *base, "--collection", "files", "ingest", str(docs_dir))[0] == 0

    code, out, _ = run(
        capsys, *base, "server", "--server", owner.url, "push", "files", "--as", "firm-files"
    )
    assert code == 0 and "3 added, 0 replaced, 0 already there, 0 failed" in out
    code, out, _ = run(
        capsys, *base, "server", "--server", owner.url, "push", "files", "--as", "firm-files"
    )
    assert "0 added, 0 replaced, 3 already there" in out
    code, out, _ = run(
        capsys,
        *base,
        "server",
        "--server",
        owner.url,
        "grant",
        "firm-files",
        reader.login,
        "--read",
    )
    assert code == 0 and f"'{reader.login}' now has read access to 'firm-files'" in out

    code, out, _ = run(capsys, *base, "server", "--server", reader.url, "status", "--json")
    status = json.loads(out)
    assert [(c["name"], c["access"], c["documents"]) for c in status["collections"]] == [
        ("firm-files", "read", 3)
    ]
    code, out, _ = run(
        capsys,
        *base,
        "server",
        "--server",
        reader.url,
        "search",
        "firm-files",
        "security deposit",
        "-k",
        "2",
        "--json",
    )
    hits = json.loads(out)
    assert code == 0 and (hits[0]["document"], hits[0]["page"]) == ("lease.pdf", 3)

    # removing documents: refused to a reader, done (and audited) for a writer
    code, _, err = run(
        capsys, *base, "server", "--server", reader.url, "remove", "firm-files", "lease.pdf"
    )
    assert code == 1 and "may read the shared collection 'firm-files' but not remove" in err
    code, out, _ = run(
        capsys,
        *base,
        "server",
        "--server",
        owner.url,
        "remove",
        "firm-files",
        "lease.pdf",
        "no-such.pdf",
    )
    assert code == 1 and "  removed  lease.pdf" in out and "not there  no-such.pdf" in out
    assert "'firm-files' on" in out and ": 1 removed." in out
    code, out, _ = run(
        capsys, *base, "server", "--server", reader.url, "search", "firm-files", "deposit", "--json"
    )
    assert "lease.pdf" not in {hit["document"] for hit in json.loads(out)}
    # adding files straight to the shared collection: a writer's arrive, a reader is refused
    code, out, _ = run(
        capsys, *base, "server", "--server", owner.url, "add", "firm-files", str(docs_dir)
    )
    assert code == 0 and "Added 1 document to the shared collection 'firm-files'" in out
    assert "(2 already there)" in out
    code, _, err = run(
        capsys, *base, "server", "--server", reader.url, "add", "firm-files", str(docs_dir)
    )
    assert code == 1 and "may read the shared collection 'firm-files' but not add to it" in err
    with psycopg.connect(owner.conninfo(), autocommit=True) as con:
        audit = con.execute("SELECT who, action, subject FROM kbdesk.audit").fetchall()
    assert any(
        (who, action) == (owner.login, "remove") and subject.endswith("lease.pdf")
        for who, action, subject in audit
    )

    run(capsys, *base, "server", "--server", owner.url, "revoke", "firm-files", reader.login)
    code, _, err = run(
        capsys, *base, "server", "--server", reader.url, "search", "firm-files", "deposit"
    )
    assert code == 1 and "may not read a shared collection named 'firm-files'" in err


def test_no_server_set_names_the_way_out(capsys, data_dir):
    code, _, err = run(capsys, "--data-dir", str(data_dir), "server", "status")
    assert code == 1 and "No shared server is set" in err and "--server" in err
