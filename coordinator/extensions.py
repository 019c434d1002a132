"""Unbound extensions; `create_app` binds them."""
from flask_babel import Babel
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy

from .domain.models import Base

db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate()
socketio = SocketIO()
babel = Babel()
