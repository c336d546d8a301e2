"""`kbdesk server ...`: a practice's shared server from a terminal: preparing it, its collections'
access, uploading a local collection, searching a shared one, and what this login may see.

The server's address comes from --server or Settings (shared_server); its password from the
system key store, libpq's own PGPASSWORD or ~/.pgpass, or is asked for when the server wants one.
"""

from __future__ import annotations

import getpass
import json
import sys
from dataclasses import asdict

from kbdesk.cli.common import EXIT_OK, settings_for, unlocking
from kbdesk.cli.library import print_hits
from kbdesk.core.errors import AccessDenied, InvalidSetting

LEVELS = ("read", "write", "admin")


def add_parsers(sub) -> None:
    server = sub.add_parser(
        "server", help="a shared collection server (PostgreSQL + pgvector) for a whole practice"
    )
    server.add_argument(
        "--server",
        metavar="URL",
        help="the server, e.g. postgresql://LOGIN@HOST/DATABASE (default: from Settings)",
    )
    server.add_argument(
        "--remember-password",
        action="store_true",
        help="keep the password typed in this computer's key store",
    )
    actions = server.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser("init", help="prepare the server for kbdesk, once (a superuser login)")
    p.add_argument("url", metavar="URL")
    p = actions.add_parser("status", help="the server, this login, and the collections it may read")
    p.add_argument("--json", action="store_true")
    p = actions.add_parser(
        "push",
        help="upload a local collection (resumable; documents already there are skipped)",
    )
    p.add_argument("local", metavar="LOCAL_COLLECTION")
    p.add_argument("--as", dest="name", help="the shared collection's name (default: the same)")
    p = actions.add_parser(
        "add",
        help="add files and folders to a shared collection (read on this PC, then uploaded)",
    )
    p.add_argument("collection")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p = actions.add_parser(
        "remove", help="remove documents from a shared collection (write access; audited)"
    )
    p.add_argument("collection")
    p.add_argument("documents", nargs="+", metavar="DOCUMENT", help="a document's name as listed")
    p = actions.add_parser("grant", help="give a login read, write or admin access to a collection")
    p.add_argument("collection")
    p.add_argument("login")
    level = p.add_mutually_exclusive_group(required=True)
    for name in LEVELS:
        level.add_argument(f"--{name}", dest="level", action="store_const", const=name)
    p = actions.add_parser("revoke", help="take all access to a collection from a login")
    p.add_argument("collection")
    p.add_argument("login")
    p = actions.add_parser("drop", help="delete a shared collection (its administrators only)")
    p.add_argument("collection")
    p = actions.add_parser("search", help="search a shared collection")
    p.add_argument("collection")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=10, help="number of results (default: %(default)s)")
    p.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid")
    p.add_argument("--json", action="store_true")


def _address(args):
    from kbdesk.core.server.connection import ServerAddress

    url = getattr(args, "url", None) or args.server or settings_for(args).shared_server
    if not url:
        raise InvalidSetting(
            "No shared server is set.",
            hint="Give --server postgresql://LOGIN@HOST/DATABASE, or set it in Settings.",
        )
    return ServerAddress(url)


def _with_password(args, address, use):
    """`use(None)` (a remembered password, PGPASSWORD or ~/.pgpass); where the server asks for a
    password it has not been given, it is typed (and remembered with --remember-password)."""
    try:
        return use(None)
    except AccessDenied as err:
        if "refused the login" not in err.message or not sys.stdin.isatty():
            raise
    password = getpass.getpass(f"Password of '{address.login}' on {address.shown}: ")
    result = use(password)
    if args.remember_password:
        address.remember(password)
    return result


def cmd_server(args) -> int:
    from kbdesk.core.server import admin

    address = _address(args)
    if args.action == "init":
        print(_with_password(args, address, lambda pw: admin.init_server(address, pw)))
    elif args.action == "status":
        found = _with_password(args, address, lambda pw: admin.status(address, pw))
        if args.json:
            print(json.dumps(asdict(found), ensure_ascii=False, indent=2))
        else:
            _print_status(found)
    elif args.action in ("grant", "revoke"):
        level = args.level if args.action == "grant" else "none"
        _with_password(
            args,
            address,
            lambda pw: admin.set_access(address, args.collection, args.login, level, pw),
        )
        done = f"now has {level} access to" if level != "none" else "no longer has access to"
        print(f"'{args.login}' {done} '{args.collection}'.")
    elif args.action == "drop":
        _with_password(
            args, address, lambda pw: admin.drop_collection(address, args.collection, pw)
        )
        print(f"Deleted the shared collection '{args.collection}'.")
    elif args.action == "push":
        return _push(args, address)
    elif args.action == "add":
        from kbdesk.core.server.add_files import add_files

        report = _with_password(
            args,
            address,
            lambda pw: add_files(
                address, args.collection, args.paths, data_dir=args.data_dir, password=pw
            ),
        )
        print(report.summary())
        return EXIT_OK if report.imported.ok and not report.uploaded.failed else 1
    elif args.action == "remove":
        from kbdesk.core.server.removal import remove_documents

        removed = _with_password(
            args,
            address,
            lambda pw: remove_documents(address, args.collection, args.documents, password=pw),
        )
        for name in removed:
            print(f"  removed  {name}")
        missing = [name for name in args.documents if name not in removed]
        for name in missing:
            print(f"not there  {name}")
        print(f"'{args.collection}' on {address.shown}: {len(removed)} removed.")
        return EXIT_OK if not missing else 1
    elif args.action == "search":
        from kbdesk.core.server.collection import SharedCollection

        with _with_password(
            args,
            address,
            lambda pw: SharedCollection.open(
                address, args.collection, data_dir=args.data_dir, password=pw
            ),
        ) as shared:
            hits = shared.search(args.query, k=args.k, mode=args.mode)
        return print_hits(args, hits)
    return EXIT_OK


def _push(args, address) -> int:
    from kbdesk.cli.terminal import TerminalProgress
    from kbdesk.core.kb import KnowledgeBase
    from kbdesk.core.server.push import push

    opening = lambda secret: KnowledgeBase.open(  # noqa: E731
        args.data_dir, args.local, secret=secret, create=False
    )
    bar = TerminalProgress()
    with unlocking(args, args.local, opening) as kb:
        try:
            report = _with_password(
                args, address, lambda pw: push(kb, address, args.name, password=pw, progress=bar)
            )
        finally:
            bar.close()
    for name in report.added:
        print(f"    added  {name}")
    for name in report.replaced:
        print(f" replaced  {name}")
    for name, why in report.failed:
        print(f"   failed  {name}  — {why}")
    print(f"'{report.collection}' on {address.shown}: {report.summary()}")
    return EXIT_OK if not report.failed else 1


def _print_status(found) -> None:
    from kbdesk.core.server.push import GRAPH_PENDING

    print(f"Server     {found.address} (PostgreSQL {found.server_version})")
    print(f"pgvector   {found.pgvector or 'not installed'}")
    schema = found.schema_version if found.schema_version is not None else "not prepared"
    print(f"Schema     {schema}")
    print(f"Login      {found.login}" + ("  (may create collections)" if found.may_create else ""))
    if not found.collections:
        print("No shared collection this login may read.")
    for c in found.collections:
        print(f"  {c.name}  [{c.access}]  {c.documents} documents, {c.passages} passages")
        if not c.graph:
            print(f"    {GRAPH_PENDING}")


COMMANDS = {"server": cmd_server}
