"""Tests that kill mutants the rest of the suite let live (scripts/mutation.py): the read path."""
