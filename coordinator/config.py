"""Default settings. Override them in instance/config.py or with PICKET_* environment variables."""
import hashlib

# Database connection pool, per server process. SQLALCHEMY_ENGINE_OPTIONS overrides these key by key (the extension
# merges the two). In threading mode every request is a thread that holds a connection while it waits for the write
# lock (SQLite's single lock, or PostgreSQL's event row lock), so 5 + 10 (SQLAlchemy's default) ran out under 200
# joins at once and readers (connect, snapshot, broadcasts) queued behind the writers. 50 per process keeps two
# processes under PostgreSQL's default max_connections (100). A request that finds no connection within pool_timeout
# (whole seconds) or SQLite's busy timeout answers `busy`, which clients retry with the same op id.
POOL_DEFAULTS = {"pool_size": 10, "max_overflow": 40, "pool_timeout": 30}


def pg_engine_options(config) -> dict:
    """Engine options for PostgreSQL: a pool sized so that PROCESSES server processes together stay under the
    server's max_connections, and lock/statement timeouts so a request that waits on a row lock answers `busy`.

    Each process may open pool_size + max_overflow connections. N processes x that, plus what psql, `flask db
    upgrade` and monitoring need (PG_RESERVED_CONNECTIONS), must stay under PG_MAX_CONNECTIONS: with the defaults
    (100, 10) that is 90 // N per process, at most 50: 1 or 2 processes 45-50, 3 processes 30, 4 processes 22.
    """
    per_process = max(2, min(50, (config["PG_MAX_CONNECTIONS"] - config["PG_RESERVED_CONNECTIONS"])
                             // max(1, int(config["PROCESSES"]))))
    pool_size = min(10, per_process)
    options = f"-c lock_timeout={int(config['PG_LOCK_TIMEOUT_MS'])} " \
              f"-c statement_timeout={int(config['PG_STATEMENT_TIMEOUT_MS'])}"
    # pool_pre_ping: after PostgreSQL restarts, stale pooled connections are replaced instead of failing a request.
    return {"pool_size": pool_size, "max_overflow": per_process - pool_size, "pool_pre_ping": True,
            "connect_args": {"options": options}}


class Defaults:
    """Values used when nothing else is configured."""

    SECRET_KEY = None  # generated into instance/secret_key on first start when not configured
    SQLALCHEMY_DATABASE_URI = "sqlite:///picket.db"  # relative: lands in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}  # on top of POOL_DEFAULTS (and pg_engine_options on PostgreSQL), key by key
    # PostgreSQL (see pg_engine_options and docs/operations.md, "Scale-out")
    PROCESSES = 1                      # server processes sharing the database: each one's pool is a share of ...
    PG_MAX_CONNECTIONS = 100           # ... the server's max_connections, ...
    PG_RESERVED_CONNECTIONS = 10       # ... less what psql, migrations and monitoring need
    PG_LOCK_TIMEOUT_MS = 5000          # a write waiting this long on a row lock answers `busy` (clients retry)
    PG_STATEMENT_TIMEOUT_MS = 30000    # no statement runs longer; it is cancelled and answered `busy`
    # Socket.IO
    ASYNC_MODE = "eventlet"            # eventlet | gevent | threading; the entry point patches for the first two
    MESSAGE_QUEUE = None               # e.g. redis://127.0.0.1:6379/0 to run several server processes
    # The Redis pub/sub channel of this installation. Pub/sub ignores the database number in MESSAGE_QUEUE, so two
    # installations on one Redis must use different channels. None: derived from SECRET_KEY (see message_channel()).
    MESSAGE_QUEUE_CHANNEL = None
    CORS_ALLOWED_ORIGINS: list | None = None  # None: same origin only; never "*"
    MAX_HTTP_BUFFER_SIZE = 16_384      # bytes; the product's messages are tiny
    # What one socket may send (coordinator/transport.py): frames and bytes per window, a burst of the whole budget
    # then the steady rate. A socket over it is closed (a phone reconnects; its place is kept). Real clients send a
    # few frames a minute: actions are limited to 30 per 10 s per actor (ACTION_BURST), plus snapshots and pongs.
    SOCKET_INBOUND_MESSAGES = 60
    SOCKET_INBOUND_BYTES = 128 * 1024
    SOCKET_INBOUND_WINDOW_SECONDS = 10
    PING_INTERVAL = 20
    # Forgiving: a phone on a weak network that answers a ping late keeps its socket; a dropped socket costs no
    # place, but a reconnect costs a snapshot. See docs/benchmarks.md ("The heartbeat drops, explained").
    PING_TIMEOUT = 60
    WEBSOCKET_COMPRESSION = False      # permessage-deflate costs ~100 KB and CPU per phone (see transport.py)
    MAX_CONNECTIONS = 6000             # eventlet's WSGI server allows 1024 by default
    BROADCAST_WINDOW_MS = 250          # changes closer together than this go out as one message (see broadcast.py)
    QUIET_GC = True                    # full garbage collections only when no change is being broadcast (gcpolicy.py)
    # Time
    RUN_TICKER = True
    TICK_SECONDS = 0.5
    PURGE_SECONDS = 60
    # Presence: each process says it is alive this often; one silent for PROCESS_STALE_SECONDS is taken for dead and
    # its sockets are forgotten (the console shows those phones offline). Longer than a ping interval plus timeout:
    # a process stalled that long has lost its clients anyway, so a live one is never taken for dead.
    HEARTBEAT_SECONDS = 10
    QUEUE_PROBE_SECONDS = 1            # with MESSAGE_QUEUE: how often a process checks its queue (readiness.py)
    PROCESS_STALE_SECONDS = 90
    MAX_EVENT_HOURS = 48               # an event nobody ends is ended this long after creation (then purged)
    CLOCK_OFFSET_MS = 0               # TEST-ONLY: shifts the server clock so a restarted server can "jump" ahead
    # HTTP
    MAX_CONTENT_LENGTH = 64 * 1024
    HOST = "127.0.0.1"
    PUBLIC_URL = None                  # e.g. https://picket.example: base of join links in QR codes (None: request host)
    PORT = 5000
    # Rate limits per socket connection: actions per window
    ACTION_BURST = 30
    ACTION_WINDOW_SECONDS = 10
    CREATE_LIMIT_PER_MINUTE = 30      # event creations per process per minute
    # Proof of work on every join (coordinator/domain/pow.py; docs/threat-model.md, "Floods"). The base price is
    # POW_COST PBKDF2-SHA-256 iterations per attempt times 16 ** len(POW_PREFIX) attempts on average: about 0.2 s in
    # desktop Chromium, 0.3 s for Python's hashlib on one core, roughly 0.6-1 s on a mid-range phone.
    POW_REQUIRED = True                # TEST-ONLY switch: the general test fixtures turn it off; never in production
    POW_COST = 5000
    POW_PREFIX = "00"
    POW_TTL_SECONDS = 300              # a challenge must be used within this time (slow networks, slow phones)
    POW_CALM_PER_MINUTE = 20           # joins a minute an event takes at the base price (people arriving)
    POW_STEP = 5                       # every 5 joins a minute more double the event's price ...
    POW_MAX_DOUBLINGS = 8              # ... up to 256 times
    # Limits by network address, in memory only (addrlimit.py): a bucket of ADDR_BURST challenges (and event
    # creations) refilled at ADDR_PER_MINUTE; each one owed beyond it makes the next challenge ADDR_PRICE_STEP times
    # dearer, and past ADDR_MAX_DEBT the address is refused (rate_limited) until the bucket refills.
    ADDR_LIMITS = True
    ADDR_BURST = 4
    ADDR_PER_MINUTE = 3
    ADDR_PRICE_STEP = 4
    ADDR_MAX_DEBT = 6
    PROXY_FIX_X_FOR = 0                # behind a reverse proxy that sets X-Forwarded-For: how many proxies to trust
    # Web Push (VAPID); keys are generated into the instance folder when not configured
    VAPID_PRIVATE_KEY = None
    VAPID_SUBJECT = "mailto:admin@localhost"
    PUSH_ALLOW_INSECURE = False        # tests point subscriptions at an http:// endpoint on 127.0.0.1
    # i18n
    LANGUAGES = ["ru", "en"]
    BABEL_DEFAULT_LOCALE = "ru"
    SESSION_COOKIE_SAMESITE = "Strict"
    SESSION_COOKIE_HTTPONLY = True


def message_channel(config) -> str:
    """The installation's Redis channel: MESSAGE_QUEUE_CHANNEL, or a name derived from SECRET_KEY.

    Every process of one installation must share SECRET_KEY anyway (sessions are signed with it), and no other
    installation has it, so a digest of it separates installations without a new setting. It is one-way (a channel
    name seen on Redis does not reveal the key). The database URL would be unique too, but processes of one
    installation may spell it differently (host name or address, password in the URL or not) and would then not
    hear each other, which is worse than the leak it prevents.
    """
    if config.get("MESSAGE_QUEUE_CHANNEL"):
        return str(config["MESSAGE_QUEUE_CHANNEL"])
    digest = hashlib.sha256(b"picket-queue message channel\0" + str(config["SECRET_KEY"]).encode()).hexdigest()
    return f"picket-{digest[:24]}"
