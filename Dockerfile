# riskmap service image. Mirrors the README's set-up step by step: Debian packages, then scripts/setup.sh.
FROM python:3.11-slim-bookworm

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    RISKMAP_HOST=0.0.0.0 \
    RISKMAP_PORT=8000 \
    RISKMAP_DB=sqlite:////var/lib/riskmap/riskmap.db

RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends make gdal-bin poppler-utils fonts-noto-cjk fonts-wqy-microhei libegl1 libgl1 nodejs npm \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/riskmap
COPY . .
RUN bash scripts/setup.sh && mkdir -p /var/lib/riskmap

EXPOSE 8000
VOLUME ["/var/lib/riskmap"]
# Default: the demo plant; for your own data run `riskmap serve` with RISKMAP_DB pointing at your database.
CMD [".venv/bin/riskmap", "demo", "--db", "sqlite:////var/lib/riskmap/riskmap-demo.db", "--host", "0.0.0.0"]
