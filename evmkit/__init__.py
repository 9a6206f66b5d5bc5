"""Shared chain work: Solidity compilation, chain sessions, and packaged templates."""
