"""``HTTPTransport(http_backend=...)``: httpx and aiohttp side by side on real loopback sockets.

``wire`` is a byte-exact loopback server and the side-by-side runner; each test module plays
the same script through both backends and asserts the caller sees the same thing.
"""
