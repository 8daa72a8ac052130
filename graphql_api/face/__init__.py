"""The server face: ASGI app, HTTP and WebSocket handling, health, CLI."""
