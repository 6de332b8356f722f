"""One module per grant type, each validating a token request and then answering it."""
