# One image for the four services (docker-compose.yml and deploy/k8s run it with different commands).

# The compiled cores (services/match/native, services/classify/native), built as wheels for Python 3.11
# (Debian bookworm's python3, the same base as python:3.11-slim).
FROM rust:1-slim-bookworm AS native
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir maturin==1.16.0
COPY services/match/native /src/match
COPY services/classify/native /src/classify
RUN for core in match classify; do \
      (cd /src/$core && /opt/build/bin/maturin build --release --locked -i python3 -o /wheels) || exit 1; done

FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY --from=native /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/*.whl
COPY services ./services
RUN pip install --no-cache-dir --no-deps . && useradd --uid 10001 goalpost
USER goalpost
# GOALPOST_STATE_DIR: where faust keeps its small local data (a writable place in the container)
ENV GOALPOST_HTTP_HOST=0.0.0.0 PYTHONUNBUFFERED=1 GOALPOST_STATE_DIR=/tmp/goalpost
# The command picks the service: python -m services.ingest | classify | match | ledger
CMD ["python", "-m", "services.ingest"]
