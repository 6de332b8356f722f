"""OAuth 2.1 authorization server core: token endpoint, grants and errors, free of any web framework."""
