"""Evaluations of answers: metrics, the four-way comparison of RAG and adapters, reports."""
