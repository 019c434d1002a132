"""WebSocket transport settings that Engine.IO does not expose."""
from __future__ import annotations


class NoWebSocketCompression:
    """WSGI middleware: hide the client's `Sec-WebSocket-Extensions` offer, so no permessage-deflate is negotiated.

    Browsers offer permessage-deflate on every WebSocket. Both servers we run (eventlet's websocket module and
    simple-websocket/wsproto in gevent and threading modes) accept it, and then keep a zlib compressor and
    decompressor per connection: about 100 KB of server memory per phone and CPU on every message, for messages of
    about 1 KB. The product's messages are small and a picket's server must hold thousands of phones, so by default
    the offer is removed and frames go uncompressed (WEBSOCKET_COMPRESSION = True keeps it).
    """

    def __init__(self, app):
        """Wrap the WSGI app (outside Flask-SocketIO's middleware, which handles the upgrade)."""
        self.app = app

    def __call__(self, environ, start_response):
        """Drop the extension offer, then pass the request on."""
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.app(environ, start_response)
