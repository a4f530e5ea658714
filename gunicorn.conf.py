"""gunicorn settings for the desk; gunicorn reads ./gunicorn.conf.py from where it starts."""


def post_worker_init(worker):
    """Load the face (and OCR) engines before the worker takes its first request."""
    from jobs.worker import load_engines

    load_engines(worker.wsgi)
