"""Password hashing, tokens, audit."""
