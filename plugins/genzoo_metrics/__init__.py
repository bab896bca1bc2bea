"""genzoo's first-party metrics plugin."""
