"""Rule files: loading and validating them into typed objects, conditions, actions, hot reload."""
