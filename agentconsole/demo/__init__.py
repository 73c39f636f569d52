"""The embedded demo switch."""
