"""The kernel every other package shares: config, storage paths, errors, CLI."""
