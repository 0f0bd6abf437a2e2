"""Real third-party programs run as test peers (each test skips when its program is not installed)."""
