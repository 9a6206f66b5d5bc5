"""KZG Verkle trees with on-chain verifiers (see the verkle issues)."""
