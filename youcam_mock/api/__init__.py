"""The thin Flask layer: authenticate, parse, validate, call the backend, serialise."""
