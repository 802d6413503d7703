#!/usr/bin/env bash
# Smoke-tests dist/bunim: start it in an empty temp dir with an empty environment, check /health
# and /swagger, stop it with SIGTERM and require exit 0.
set -euo pipefail
bin="$(cd "$(dirname "$0")/.." && pwd)/dist/bunim"
[ -x "$bin" ] || { echo "smoke: $bin not built (npm run build)"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$bin" "$dir/bunim"
port=$(( 20000 + RANDOM % 20000 ))
cd "$dir"
env -i HOME="$dir" ./bunim serve --port "$port" --tcp-port 0 >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/health" | grep -q '"ok"' || { echo "smoke: /health failed"; cat "$dir/log"; kill "$pid"; exit 1; }
curl -fsS "http://127.0.0.1:$port/swagger" | grep -q 'swagger-ui' || { echo "smoke: /swagger failed"; kill "$pid"; exit 1; }
curl -fsS "http://127.0.0.1:$port/swagger/json" | grep -q '"openapi"' || { echo "smoke: /swagger/json failed"; kill "$pid"; exit 1; }
kill -TERM "$pid"
code=0; wait "$pid" || code=$?
[ "$code" = 0 ] || { echo "smoke: exit code $code after SIGTERM"; cat "$dir/log"; exit 1; }
echo "smoke: dist/bunim ok (health, swagger, SIGTERM exit 0)"
