# One image for the API and the worker (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml ./
COPY api ./api
COPY activities ./activities
COPY core ./core
COPY migrations ./migrations
COPY models ./models
COPY pricing ./pricing
COPY store ./store
COPY workflows ./workflows
COPY worker.py ./
# The source in /app is what runs (cwd is first on sys.path); the install brings the dependencies.
# Bytecode is compiled at build time: the workflow sandbox re-imports the workflow module for
# every contract it runs, and PYTHONDONTWRITEBYTECODE stops writing .pyc files, not reading them.
RUN pip install . \
    && python -m compileall -q /app \
    && useradd --system --uid 10001 --home-dir /app billing \
    && mkdir -p /app/var && chown billing /app/var

USER billing
EXPOSE 8000 9464 9465
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000"]
