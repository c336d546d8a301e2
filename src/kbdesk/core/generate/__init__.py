"""Grounded generation: local llama.cpp models, prompt budgeting, streaming, citation checking."""
