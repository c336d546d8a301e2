"""Encryption of a collection's files: data keys and how they are unlocked, sealed files."""
