#!/usr/bin/env bash
# Paper-trade the US equity swing system: the entry point for cron or a container.
#
# Replays the daily equity bars in $TRADEJET_EQUITY_DATA_DIR (files <TICKER>_1d.csv[.gz],
# adjusted with their adj_close column) through the event driver and the paper venue
# (cash only), or the seeded synthetic daily equity market when it is unset. Restarted on
# the same ledger it resumes after the last bar it completed. Ledger and audit log live
# apart from crypto's: $TRADEJET_HOME/paper/swing/. Entries need the promoted swing model
# ($TRADEJET_HOME/models/swing) unless TRADEJET_SWING_ML says otherwise.
# Environment: TRADEJET_HOME, TRADEJET_LEDGER, TRADEJET_EQUITY_DATA_DIR, TRADEJET_CONFIG,
# TRADEJET_SPEED (1x by default), TRADEJET_SWING_ML (guard | off | rules-only), LOG_LEVEL;
# a ./.env file is read first if present.
# Extra arguments go to `tradejet paper` (e.g. --max-bars 300 --quiet).
set -euo pipefail
if [ -f .env ]; then set -a; . ./.env; set +a; fi
export DEPLOYMENT_ENV=paper
: "${TRADEJET_HOME:=${HOME}/.tradejet}"
export TRADEJET_HOME
args=(paper --system swing --ml "${TRADEJET_SWING_ML:-guard}"
      --ledger "${TRADEJET_LEDGER:-${TRADEJET_HOME}/paper/swing/ledger.sqlite}" --speed "${TRADEJET_SPEED:-1x}")
if [ -n "${TRADEJET_EQUITY_DATA_DIR:-}" ]; then args+=(--data "${TRADEJET_EQUITY_DATA_DIR}"); else args+=(--synthetic); fi
if [ -n "${TRADEJET_CONFIG:-}" ]; then args+=(--config "${TRADEJET_CONFIG}"); fi
exec "${PYTHON:-python}" -m tradejet "${args[@]}" --log-json "$@"
