"""One module per tab: TITLE, ID and build(ctx, shared)."""
