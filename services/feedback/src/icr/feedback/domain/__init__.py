"""The feedback domain: ratings, campaigns and score arithmetic. Imports no framework."""
