"""Reading and editing HTML bytes: locating and verifying blocks, splicing edits, reusing layouts, fragment templates."""
