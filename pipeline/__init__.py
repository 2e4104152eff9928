"""mixbuild engine: specs, DAG, hashing, cache, executor, CLI."""
