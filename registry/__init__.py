"""genzoo's default checkpoint registry, installed as the package ``genzoo_registry``.

The folder holds ``index.json`` and the published model folders (see ``README.md``). pyproject
maps it onto the package ``genzoo_registry`` so a wheel install ships it as package data, and
``genzoo.hub.locations.default_registry`` finds it there; a source checkout uses it in place.
"""
