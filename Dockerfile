# The Spotlight ranking service: pinned serving dependencies only (serving/requirements.txt,
# no MLflow, LightGBM or training code), the serving and orders packages and one exported bundle.
#
#   spotlight export --alias champion --out bundle
#   docker build -t spotlight-serving .
#   docker run --rm -p 3000:3000 -e SPOTLIGHT_API_TOKEN=change-me spotlight-serving
#
# Inside the container the service binds 0.0.0.0 (the published port decides who reaches it);
# `spotlight serve` outside Docker binds 127.0.0.1. tests/test_dockerfile.py runs this CMD and
# HEALTHCHECK outside Docker, with the same environment and only these dependencies.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    BENTOML_HOME=/tmp/bentoml \
    BENTOML_DO_NOT_TRACK=True \
    SPOTLIGHT_BUNDLE=/app/bundle \
    BENTOML_HOST=0.0.0.0 \
    BENTOML_PORT=3000

WORKDIR /app
COPY serving/requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir --requirement /app/requirements.txt \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin spotlight
COPY orders /app/orders
COPY serving /app/serving
COPY bundle /app/bundle

USER 10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:' + os.environ['BENTOML_PORT'] + '/readyz', timeout=4).status != 200)"]
CMD ["python", "-m", "bentoml", "serve", "serving.service:Spotlight"]
