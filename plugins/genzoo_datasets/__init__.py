"""genzoo's first-party datasets plugin."""
