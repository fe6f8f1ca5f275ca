#!/usr/bin/env bash
# Make sure a Docker engine answers on the default socket, or stop the one we started.
# Usage: scripts/dockerd.sh start|stop|status
#   start   if no engine answers, start dockerd with the options below and wait until it
#           answers (60 s at most); prints "started <pid>" or "running" (already there)
#   stop    stop the dockerd this script started (the PID it recorded), if still running
#   status  exit 0 when an engine answers
# The engine is started without a default bridge and without touching iptables: labs
# only use the project's own --internal network (see hub/backends/docker/).
set -euo pipefail

PIDFILE=${DATALAB_DOCKERD_PIDFILE:-/run/datalab-dockerd.pid}
LOG=${DATALAB_DOCKERD_LOG:-/var/log/datalab-dockerd.log}

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case "${1:-}" in
  status)
    answers ;;
  start)
    if answers; then echo running; exit 0; fi
    if [ "$(id -u)" -ne 0 ]; then
      echo "dockerd is not running and only root can start it: sudo $0 start" >&2; exit 1
    fi
    setsid dockerd --bridge=none --iptables=false --ip-masq=false --live-restore \
      --pidfile /run/datalab-dockerd.engine.pid >>"$LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
    for _ in $(seq 1 120); do
      if answers; then echo "started $pid"; exit 0; fi
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "dockerd exited; its log ($LOG):" >&2; tail -20 "$LOG" >&2; rm -f "$PIDFILE"; exit 1
      fi
      sleep 0.5
    done
    echo "dockerd did not answer within 60 s; its log ($LOG):" >&2; tail -20 "$LOG" >&2
    exit 1 ;;
  stop)
    [ -f "$PIDFILE" ] || { echo "no dockerd started by $0"; exit 0; }
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$PIDFILE"
    echo "stopped $pid" ;;
  *)
    echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
