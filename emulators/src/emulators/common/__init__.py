"""What the emulators share: ASGI plumbing, the uvicorn runner, the fault-rule engine, the
`/_emulator/` control endpoints, live settings and counters, and byte-range downloads.

Nothing here knows Drive or Dropbox; each emulator's package keeps only what its API decides.
"""
