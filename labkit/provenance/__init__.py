"""Text provenance (TROVE): segment, retrieve, relate, trace, evaluate."""
