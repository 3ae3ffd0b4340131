# syntax=docker/dockerfile:1
# batchscore image: one image for every role (web, worker, cron); the command picks the role.
#   docker build -t batchscore .
#   docker run -p 8000:8000 -v batchscore-data:/opt/batchscore/data batchscore      # SQLite, demo
# compose.yaml runs it with MariaDB; docs/deploy.md explains both.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: a compiler for the one dependency without an arm64 wheel (streaming-form-data);
# none of it reaches the final image (so its versions need no pin).
FROM ${PYTHON_IMAGE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The venv lives where crontab.txt expects it (BATCHSCORE_HOME=/opt/batchscore, .venv/bin).
RUN python -m venv /opt/batchscore/.venv
WORKDIR /src
# The exact versions the tests ran on (scripts/lock), with the s3 extra (s3:// folders, for
# containers whose files live in a bucket); this layer is cached until the lock changes.
COPY requirements-s3.lock ./
RUN /opt/batchscore/.venv/bin/pip install -r requirements-s3.lock
COPY pyproject.toml README.md LICENSE ./
COPY api ./api
COPY batchscore ./batchscore
COPY cli ./cli
COPY db ./db
COPY model ./model
COPY scheduler ./scheduler
COPY service ./service
RUN /opt/batchscore/.venv/bin/pip install --no-deps .

# supercronic runs crontab.txt in the cron container: cron for containers (keeps the environment,
# logs to stdout, runs as non-root, stops cleanly on SIGTERM). Pinned, checksum verified.
FROM ${PYTHON_IMAGE} AS supercronic
ARG TARGETARCH
ARG SUPERCRONIC_VERSION=v0.2.41
ADD https://github.com/aptible/supercronic/releases/download/${SUPERCRONIC_VERSION}/supercronic-linux-${TARGETARCH} /supercronic
RUN case "${TARGETARCH}" in \
        amd64) sum=f70ad28d0d739a96dc9e2087ae370c257e79b8d7 ;; \
        arm64) sum=44e10e33e8d98b1d1522f6719f15fb9469786ff0 ;; \
        *) echo "no supercronic checksum for ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
    && echo "${sum}  /supercronic" > /supercronic.sha1 \
    && sha1sum -c /supercronic.sha1 \
    && chmod 0755 /supercronic

FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PATH=/opt/batchscore/.venv/bin:$PATH \
    BATCHSCORE_HTTP_HOST=0.0.0.0 \
    BATCHSCORE_HTTP_PORT=8000
RUN groupadd --system --gid 10001 batchscore \
    && useradd --system --uid 10001 --gid batchscore --home-dir /opt/batchscore \
        --no-create-home --shell /usr/sbin/nologin batchscore
WORKDIR /opt/batchscore
COPY --from=build /opt/batchscore/.venv ./.venv
COPY --from=supercronic /supercronic /usr/local/bin/supercronic
COPY crontab.txt ./crontab.txt
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# No config file: settings come from BATCHSCORE_* variables, relative folders from /opt/batchscore.
# data/ is owned by the app user so a new named volume mounted there starts out writable.
RUN mkdir -p data/input data/output data/models \
    && chown -R batchscore:batchscore data
USER 10001:10001
VOLUME ["/opt/batchscore/data"]
EXPOSE 8000
# Only the web container answers this; compose.yaml disables it for worker and cron.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('BATCHSCORE_HTTP_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["serve"]
