"""cpo-tui's reference trainer (placeholder until the scale-out bridge lands)."""
