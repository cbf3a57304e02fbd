"""Allocator v1: SQL-first portfolio risk allocator."""
