"""`kbdesk create`, `encrypt`, `unlock`, `lock`, `passphrase` and `recovery-key`: encrypted
collections from a terminal.

A passphrase never comes from an argument (other users see arguments in the process list): it
is typed without echo or read from --passphrase-file.
"""

from __future__ import annotations

from kbdesk.cli.common import EXIT_OK, collection_folder, read_secret, settings_for
from kbdesk.core.errors import KbdeskError

REMOVED_NOTE = (
    "The plain files were deleted; on an SSD a deleted file can survive until the drive reuses "
    "its space, so full-disk encryption is still advised."
)
PROTECTED = (
    "Its documents' text, passages, vectors and chats are encrypted on disk. While a program "
    "has it unlocked, it is as readable as any open file; full-disk encryption is still advised."
)


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "create", help="create a collection: encrypted (the default) or plain (--plain)"
    )
    p.add_argument("name")
    p.add_argument("--plain", action="store_true", help="do not encrypt it")
    p.add_argument("--embedder", help="use-multilingual, minilm, or a sentence-transformers folder")
    p.add_argument(
        "--remember", action="store_true", help="remember the unlock in this computer's key store"
    )
    p = sub.add_parser(
        "encrypt",
        help="encrypt an existing collection where it is (resumes if it was interrupted)",
    )
    p.add_argument(
        "--remember", action="store_true", help="remember the unlock in this computer's key store"
    )
    p = sub.add_parser(
        "unlock", help="check an encrypted collection's passphrase; --remember keeps the unlock"
    )
    p.add_argument(
        "--remember",
        action="store_true",
        help="remember it in this computer's key store, so commands stop asking",
    )
    sub.add_parser("lock", help="forget a remembered unlock: commands ask for the passphrase again")
    sub.add_parser(
        "recovery-key",
        help="make a new recovery key for an encrypted collection (the old one stops working)",
    )
    p = sub.add_parser(
        "passphrase",
        help="change an encrypted collection's passphrase (its files stay as they are)",
    )
    p.add_argument(
        "--new-passphrase-file",
        help="read the new passphrase from this file instead of asking for it twice",
    )


def cmd_create(args) -> int:
    from kbdesk.core import encryption
    from kbdesk.core.kb import KnowledgeBase

    if args.plain:
        from kbdesk.core.collections_admin import CollectionExists

        if args.name in KnowledgeBase.collections(args.data_dir):
            raise CollectionExists(f"A collection named '{args.name}' exists already.")
        KnowledgeBase.open(args.data_dir, args.name, embedder=args.embedder).close()
        print(f"Created collection '{args.name}' (not encrypted).")
        return EXIT_OK
    passphrase = read_secret(args, f"New passphrase for '{args.name}': ", new=True)
    kb, recovery = KnowledgeBase.create_encrypted(
        args.data_dir, args.name, passphrase, embedder=args.embedder
    )
    with kb:
        remembered = bool(args.remember and kb.key and encryption.remember(kb.folder, kb.key))
    print(f"Created encrypted collection '{kb.name}'. {PROTECTED}")
    _print_recovery(recovery)
    if args.remember:
        print(_remembered_line(kb.name, remembered))
    return EXIT_OK


def cmd_encrypt(args) -> int:
    from kbdesk.core import encryption

    name = settings_for(args).collection
    folder = collection_folder(args, name)
    resuming = encryption.interrupted(folder)
    if resuming:
        print(f"Going on with the encryption of '{name}' that was interrupted.")
    passphrase = read_secret(args, f"New passphrase for '{name}': ", new=True)

    def progress(p) -> None:
        if p.message:
            print(f"  {p.done + 1}/{p.total} {p.message}…", flush=True)

    key, recovery = encryption.encrypt_collection(
        args.data_dir, name, passphrase, progress=progress
    )
    print(f"Encrypted collection '{name}'. {PROTECTED} {REMOVED_NOTE}")
    _print_recovery(recovery)
    if args.remember:
        print(_remembered_line(name, encryption.remember(folder, key)))
    return EXIT_OK


def cmd_unlock(args) -> int:
    from kbdesk.core import encryption

    name = settings_for(args).collection
    folder = _encrypted_folder(args, name)
    key = encryption.unlock_with(folder, read_secret(args, f"Passphrase for '{name}': "))
    if args.remember:
        print(_remembered_line(name, encryption.remember(folder, key)))
    else:
        print(f"That passphrase unlocks '{name}'.")
    return EXIT_OK


def cmd_lock(args) -> int:
    from kbdesk.core import encryption

    name = settings_for(args).collection
    encryption.forget(_encrypted_folder(args, name))
    print(f"'{name}' is locked: commands and the window ask for its passphrase again.")
    return EXIT_OK


def cmd_passphrase(args) -> int:
    from argparse import Namespace

    from kbdesk.core import encryption

    name = settings_for(args).collection
    folder = _encrypted_folder(args, name)
    current = read_secret(args, f"Current passphrase or recovery key for '{name}': ")
    key = encryption.unlock_with(folder, current)  # a wrong one is refused before a new is asked
    source = Namespace(passphrase_file=args.new_passphrase_file)
    encryption.set_passphrase(folder, key, read_secret(source, "New passphrase: ", new=True))
    print(f"The passphrase of '{name}' is changed; its recovery key still works.")
    return EXIT_OK


def cmd_recovery_key(args) -> int:
    from kbdesk.core import encryption

    name = settings_for(args).collection
    folder = _encrypted_folder(args, name)
    secret = read_secret(args, f"Passphrase or current recovery key for '{name}': ")
    recovery = encryption.new_recovery_key(folder, secret)
    print(f"'{name}' has a new recovery key; the earlier one no longer opens it.")
    _print_recovery(recovery)
    return EXIT_OK


def _print_recovery(recovery: str) -> None:
    print(
        "\nRecovery key (shown this once; store it apart from this computer, it opens the "
        f"collection if the passphrase is forgotten):\n\n    {recovery}\n"
    )


def _encrypted_folder(args, name: str):
    from kbdesk.core import encryption
    from kbdesk.core.collections_admin import NoSuchCollection

    folder = collection_folder(args, name)
    if not (folder / "manifest.json").is_file():
        raise NoSuchCollection(f"There is no collection named '{name}'.")
    if not encryption.is_encrypted(folder):
        raise KbdeskError(f"Collection '{name}' is not encrypted.")
    return folder


def _remembered_line(name: str, remembered: bool) -> str:
    if remembered:
        return f"This computer's key store remembers the unlock of '{name}' for you."
    return (
        "No key store is available on this computer, so the unlock is not remembered; "
        "the passphrase is asked each time."
    )


COMMANDS = {
    "create": cmd_create,
    "encrypt": cmd_encrypt,
    "unlock": cmd_unlock,
    "lock": cmd_lock,
    "passphrase": cmd_passphrase,
    "recovery-key": cmd_recovery_key,
}
