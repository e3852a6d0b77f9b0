"""Shared fixtures. Nothing here may reach beyond loopback."""

from __future__ import annotations

import os

# Read at import time by Google's auth library: point it at a closed loopback
# port so that no client ever looks for a metadata server.
os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.1:9")
os.environ.setdefault("GCE_METADATA_ROOT", "127.0.0.1:9")
