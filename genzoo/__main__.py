"""``python -m genzoo`` (also what ``torchrun ... -m genzoo run ...`` starts on every rank)."""

from genzoo.cli import main

if __name__ == "__main__":
    main()
