"""Aiguillage: route a local authority's engineering request to the closest level that can serve it."""

__version__ = "0.1.0"
