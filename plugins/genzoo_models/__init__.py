"""genzoo's first-party models plugin."""
