"""Where fe2's log lines go. The library logs through :mod:`logging` and configures nothing itself:

    logger "fe2.macro.problem"   INFO: load steps and macro Newton iterations; WARNING: cut-backs
    logger "fe2.io.writer"       WARNING: the first loss of ellipticity of a finite-strain run

(every fe2 logger is a child of "fe2"). A script, a notebook or the ``fe2`` command shows them with

    fe2.logs.show()                  # from now on, plain lines on sys.stdout
    with fe2.logs.show(): ...        # only inside the block

and a test reads them with pytest's ``caplog.set_level(logging.INFO, logger="fe2")``.
"""

import logging
import sys

LOGGER = "fe2"


class _Lines(logging.StreamHandler):
    """Plain ``%(message)s`` lines on ``stream``, or, without one, on the ``sys.stdout`` of the moment
    of each line (so that redirect_stdout, pytest's capture and ``fe2 run -q`` catch them)."""

    def __init__(self, stream=None):
        logging.Handler.__init__(self)
        self.stream = stream
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stdout if self._stream is None else self._stream

    @stream.setter
    def stream(self, stream):
        self._stream = stream


class show:
    """Show fe2's log records of ``level`` and above as plain lines on ``stream`` (default: the
    current ``sys.stdout``). One handler on the "fe2" logger serves every call: calling again
    changes its level and stream, and never doubles a line. The "fe2" logger's level is lowered to
    ``level`` if it is higher, never raised. Used as a context manager, the previous state comes
    back at the end of the block."""

    def __init__(self, level=logging.INFO, stream=None):
        logger = logging.getLogger(LOGGER)
        handler = next((h for h in logger.handlers if isinstance(h, _Lines)), None)
        self._saved = logger.level, handler, None if handler is None else (handler.level, handler._stream)
        if handler is None:
            handler = _Lines()
            logger.addHandler(handler)
        handler.stream = stream
        handler.setLevel(level)
        if logger.getEffectiveLevel() > handler.level:
            logger.setLevel(handler.level)
        self.handler = handler

    def __enter__(self):
        return self.handler

    def __exit__(self, *exc):
        logger = logging.getLogger(LOGGER)
        level, handler, settings = self._saved
        logger.setLevel(level)
        if handler is None:
            logger.removeHandler(self.handler)
        else:
            handler.setLevel(settings[0])
            handler.stream = settings[1]
