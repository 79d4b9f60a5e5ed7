"""What billing renders for the world outside: the superbill as a PDF."""
