"""Tests that kill mutants the rest of the suite lets live: the read path."""
