"""Renderers: they take `Explanation`s (and traces) and draw them; nothing here computes scores."""
