"""Per page view: what a view teaches the profile, and applying the rules to the page."""
