"""One module per source: its declaration for the registry (see `worker.sources.registry`)."""
