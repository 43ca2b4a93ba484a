"""Staff-account pages (R16, R17) for the city-level security administrators."""
