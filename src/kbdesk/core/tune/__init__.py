"""Adapters: training data from a collection, LoRA training in its own process, export, registry."""
