"""The scrape pipeline's logic, free of Beam: the units of work (steps), the polite HTTP client (web/),
declarative site adapters (sites/) and the published Video2GIF metadata format (v2g_metadata)."""
