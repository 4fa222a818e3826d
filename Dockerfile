# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
# schemas/ and config/ ship inside the wheel (gateway.schemas, gateway.default_config)
COPY schemas ./schemas
COPY config ./config
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home /var/lib/zj-exchange --create-home gateway
COPY --from=build /opt/venv /opt/venv
# the operators' configuration; the schemas are the package's own (GATEWAY_SCHEMAS overrides)
COPY config /etc/zj-exchange/config
ENV PATH=/opt/venv/bin:$PATH \
    GATEWAY_CONFIG=/etc/zj-exchange/config \
    GATEWAY_DATA_DIR=/var/lib/zj-exchange \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080
USER gateway
WORKDIR /var/lib/zj-exchange
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
CMD ["gateway", "serve"]
