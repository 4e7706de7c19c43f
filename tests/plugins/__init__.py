"""A source added the way CONTRIBUTING.md says: a connector module and a registry entry, named
in SOURCE_PLUGINS, with an emulator of its own; no handler, page, pipeline or migration edited."""
