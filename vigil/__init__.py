"""vigil: a detection engine for Linux hosts that runs Elastic's detection rules with Elastic's exact semantics."""

__version__ = "0.1.0"
