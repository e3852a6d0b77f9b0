"""Test kit for bridge authors: fakes and an in-process Pub/Sub emulator."""
