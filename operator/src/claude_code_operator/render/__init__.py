"""Pure renderers: a Provider (and what was read) -> the manifests of its children."""
