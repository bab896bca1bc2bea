"""genzoo's first-party losses plugin."""
