"""Pointing the Celery app at another broker for one test (the job engine's tests and the browser worker test)."""

import contextlib


@contextlib.contextmanager
def broker_at(url: str, transport_options: dict | None = None):
    """The app publishes to `url` (its connection pool rebuilt) until the block ends."""
    from gridcare.celery import app

    old = (app.conf.broker_url, app.conf.broker_transport_options)

    def reset_pool():
        pool = app._pool
        app._pool = None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.force_close_all()
        # The producer pool (task publishing, control broadcasts such as ping) is bound to the old pool too.
        with contextlib.suppress(AttributeError, KeyError):
            app.__dict__["amqp"]._producer_pool = None
        with contextlib.suppress(AttributeError):
            del app.control.mailbox.producer_pool

    app.conf.broker_url = url
    app.conf.broker_transport_options = transport_options or {}
    reset_pool()
    try:
        yield app
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = old
        reset_pool()
