"""teardown: how every TCP connection in a capture ended."""
