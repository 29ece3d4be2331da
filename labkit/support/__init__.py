"""Strategy-aware emotional support: strategies, safety, agent, role-play data."""
