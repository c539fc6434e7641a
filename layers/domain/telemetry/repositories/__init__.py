"""Repositories: pure-Python persistence logic over the ItemStore and reading ports (no I/O of their own)."""
