"""Retrieval: dense (FAISS), keyword (FTS5 BM25 with jieba for Chinese), hybrid RRF, rerank, context."""
