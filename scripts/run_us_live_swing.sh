#!/usr/bin/env bash
# Trade the US equity swing system on Alpaca: the entry point for cron or a container.
#
# DEPLOYMENT_ENV=paper (default) trades Alpaca's paper account; DEPLOYMENT_ENV=live trades
# real money and needs --i-understand-real-money among the arguments. Keys from
# APCA_API_KEY_ID / APCA_API_SECRET_KEY (never logged). Idles while the market is closed.
# Environment: TRADEJET_HOME, TRADEJET_LEDGER, TRADEJET_CONFIG, ALPACA_BASE_URL (e.g. the
# local server), TRADEJET_MAX_ORDER_NOTIONAL, TRADEJET_MAX_DAILY_LOSS, TRADEJET_SWING_SYMBOLS,
# LOG_LEVEL; a ./.env file is read first if present.
# Extra arguments go to the swing runner (e.g. --max-bars 5 --quiet).
set -euo pipefail
if [ -f .env ]; then set -a; . ./.env; set +a; fi
export DEPLOYMENT_ENV="${DEPLOYMENT_ENV:-paper}"
: "${TRADEJET_HOME:=${HOME}/.tradejet}"
export TRADEJET_HOME
args=(--ledger "${TRADEJET_LEDGER:-${TRADEJET_HOME}/live/swing/${DEPLOYMENT_ENV}/ledger.sqlite}")
if [ -n "${ALPACA_BASE_URL:-}" ]; then args+=(--base-url "${ALPACA_BASE_URL}"); fi
if [ -n "${TRADEJET_CONFIG:-}" ]; then args+=(--config "${TRADEJET_CONFIG}"); fi
exec "${PYTHON:-python}" -m tradejet.commands._swing_live "${args[@]}" "$@"
