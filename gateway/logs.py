"""Logging set-up for the gateway's processes.

Nothing the gateway logs carries an API key, a document's contents or a buyer identity reference.
Drivers do at DEBUG: aiosqlite logs every statement with its parameters (document bodies, routed bulk
values), aiokafka every record it sends. Their loggers are held at INFO or above whatever the root
level.
"""

from __future__ import annotations

import logging

__all__ = ["DRIVER_LOGGERS", "configure_logging", "quiet_drivers"]

#: Loggers that write statement parameters or record values (documents, key hashes) below this level.
DRIVER_LOGGERS = {
    "aiosqlite": logging.WARNING,
    "sqlalchemy.engine": logging.WARNING,
    "aiokafka": logging.INFO,
}


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_drivers()


def quiet_drivers() -> None:
    for name, level in DRIVER_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
