"""batchscore. This folder is the kernel every floor shares (config, storage, errors, logs); the
subpackages are links to the folders at the repository root (docs/architecture.md)."""
