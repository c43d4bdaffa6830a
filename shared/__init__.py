"""Event contracts and common plumbing shared by the four services. Services import this, never each other."""
