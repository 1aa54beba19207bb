"""ICR package."""
