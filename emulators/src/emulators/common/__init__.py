"""What the emulators share: ASGI plumbing, the uvicorn runner and the server serving a fixture
in tests, the demo command line, the fault-rule engine, the `/_emulator/` control endpoints,
live settings and counters, byte-range downloads, and the common part of the fixture spec
grammar (sizes, names, media types, pictures).

Nothing here knows Drive or Dropbox; each emulator's package keeps only what its API decides.
"""
