"""Shared collections on a practice's PostgreSQL server with pgvector (design.md, "Shared collections")."""
