# One image for the four services (docker-compose.yml and deploy/k8s run it with different commands).
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY services ./services
RUN pip install --no-cache-dir --no-deps . && useradd --uid 10001 goalpost
USER goalpost
# GOALPOST_STATE_DIR: where faust keeps its small local data (a writable place in the container)
ENV GOALPOST_HTTP_HOST=0.0.0.0 PYTHONUNBUFFERED=1 GOALPOST_STATE_DIR=/tmp/goalpost
# The command picks the service: python -m services.ingest | classify | match | ledger
CMD ["python", "-m", "services.ingest"]
