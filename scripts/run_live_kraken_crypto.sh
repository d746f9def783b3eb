#!/usr/bin/env bash
# Trade the crypto system live on Kraken: the entry point for cron, systemd or a container.
#
# Real money: it refuses to start unless DEPLOYMENT_ENV=live (set here), the Kraken keys are
# in the environment or ./.env (KRAKEN_API_KEY, KRAKEN_API_SECRET), and
# TRADEJET_I_UNDERSTAND_REAL_MONEY=yes (or live.i_understand_real_money in the config).
# Restarted on the same ledger it replays its journal, reconciles with Kraken and goes on.
# Environment: TRADEJET_HOME, TRADEJET_LEDGER, TRADEJET_CONFIG, TRADEJET_BASE_URL (e.g. the
# sandbox http://127.0.0.1:8787), TRADEJET_KILL_FILE, LOG_LEVEL. Stop: SIGTERM or the kill
# file (all orders cancelled, exit 3); SIGINT stops cleanly (exit 0).
# Extra arguments go to `tradejet live` (e.g. --max-bars 10 --quiet, or --paper-fills).
set -euo pipefail
if [ -f .env ]; then set -a; . ./.env; set +a; fi
export DEPLOYMENT_ENV=live
: "${TRADEJET_HOME:=${HOME}/.tradejet}"
export TRADEJET_HOME
args=(live --system crypto --ledger "${TRADEJET_LEDGER:-${TRADEJET_HOME}/live/ledger.sqlite}")
if [ -n "${TRADEJET_CONFIG:-}" ]; then args+=(--config "${TRADEJET_CONFIG}"); fi
if [ -n "${TRADEJET_BASE_URL:-}" ]; then args+=(--base-url "${TRADEJET_BASE_URL}"); fi
if [ -n "${TRADEJET_KILL_FILE:-}" ]; then args+=(--kill-file "${TRADEJET_KILL_FILE}"); fi
if [ "${TRADEJET_I_UNDERSTAND_REAL_MONEY:-}" = "yes" ]; then args+=(--i-understand-real-money); fi
exec "${PYTHON:-python}" -m tradejet "${args[@]}" "$@"
