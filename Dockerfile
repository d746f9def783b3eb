# tradejet in a container: `docker build -t tradejet . && docker run --rm tradejet backtest`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    NUMBA_CACHE_DIR=/var/cache/tradejet/numba \
    TRADEJET_HOME=/data

WORKDIR /opt/tradejet
COPY pyproject.toml README.md ./
COPY tradejet ./tradejet
RUN pip install . \
 && useradd --create-home --uid 1000 tradejet \
 && mkdir -p "$NUMBA_CACHE_DIR" /data \
 && chown -R tradejet:tradejet "$NUMBA_CACHE_DIR" /data

USER tradejet
WORKDIR /data
VOLUME ["/data", "/var/cache/tradejet/numba"]
ENTRYPOINT ["tradejet"]
CMD ["--help"]
