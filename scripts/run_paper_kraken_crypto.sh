#!/usr/bin/env bash
# Paper-trade the crypto system: the entry point for cron or a container.
#
# Replays the bar store in $TRADEJET_DATA_DIR (e.g. the one `tradejet data` keeps fed from
# Kraken) through the event driver and the paper venue, or the synthetic market when it
# is unset. Restarted on the same ledger it resumes after the last bar it completed.
# Environment: TRADEJET_HOME, TRADEJET_LEDGER, TRADEJET_DATA_DIR, TRADEJET_CONFIG,
# TRADEJET_SPEED (1x by default), LOG_LEVEL; a ./.env file is read first if present.
# Extra arguments go to `tradejet paper` (e.g. --max-bars 1000 --quiet).
set -euo pipefail
if [ -f .env ]; then set -a; . ./.env; set +a; fi
export DEPLOYMENT_ENV=paper
: "${TRADEJET_HOME:=${HOME}/.tradejet}"
export TRADEJET_HOME
args=(paper --ledger "${TRADEJET_LEDGER:-${TRADEJET_HOME}/paper/ledger.sqlite}" --speed "${TRADEJET_SPEED:-1x}")
if [ -n "${TRADEJET_DATA_DIR:-}" ]; then args+=(--data "${TRADEJET_DATA_DIR}"); else args+=(--synthetic); fi
if [ -n "${TRADEJET_CONFIG:-}" ]; then args+=(--config "${TRADEJET_CONFIG}"); fi
exec "${PYTHON:-python}" -m tradejet "${args[@]}" --log-json "$@"
