# One image for the three services and the gateway; the compose service picks the app with APP.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv
WORKDIR /src
ENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
COPY gateway gateway
COPY cli cli
RUN uv sync --frozen --no-dev --no-editable

# GraphiQL's files (React, GraphiQL) from the npm registry with npm's client, checked against
# the integrity hashes of strawberry's page: the gateway serves them, no CDN at run time.
# The image's default ENVIRONMENT=production serves no IDE; ENVIRONMENT=development does.
FROM python:3.11-slim AS ide
RUN apt-get update && apt-get install -y --no-install-recommends npm && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/.venv /src/.venv
RUN --mount=type=cache,target=/root/.cache/icr /src/.venv/bin/python -m icr.gateway.ide fetch /graphiql

FROM python:3.11-slim
RUN useradd --system --uid 10001 icr
COPY --from=build /src/.venv /app/.venv
COPY --from=ide /graphiql /app/graphiql
ENV PATH=/app/.venv/bin:$PATH HOST=0.0.0.0 PYTHONUNBUFFERED=1 GRAPHIQL_ASSETS_DIR=/app/graphiql
USER icr
EXPOSE 8000
# APP is one of: requests, feedback, incentives, gateway. PORT defaults per app in its settings.
CMD ["sh", "-c", "exec uvicorn icr.${APP}.main:app --host 0.0.0.0 --port ${PORT} --no-access-log --loop uvloop --http httptools"]
