"""Unbound extensions; `create_app` binds them."""
from flask_babel import Babel
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy

from .config import POOL_DEFAULTS
from .domain.models import Base

db = SQLAlchemy(metadata=Base.metadata, engine_options=POOL_DEFAULTS)
migrate = Migrate()
socketio = SocketIO()
babel = Babel()
