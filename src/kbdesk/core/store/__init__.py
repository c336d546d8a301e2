"""Persistence of one collection: the SQLite catalog (source of truth) and the FAISS vector index."""
