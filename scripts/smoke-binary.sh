#!/usr/bin/env bash
# Smoke-tests dist/bunim: start it in an empty temp dir with an empty environment, check /health
# and /swagger, stop it with SIGTERM and require exit 0.
set -euo pipefail
bin="$(cd "$(dirname "$0")/.." && pwd)/dist/bunim"
[ -x "$bin" ] || { echo "smoke: $bin not built (npm run build)"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$bin" "$dir/bunim"
cd "$dir"
# Port 0: the kernel picks a free port and the binary logs the URL it bound, so the smoke test
# cannot collide with another listener (a random port once did, in CI).
env -i HOME="$dir" ./bunim serve --port 0 --tcp-port 0 >"$dir/log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(grep -o '"msg":"listening","url":"[^"]*"' "$dir/log" | sed 's/.*"url":"//; s/"$//' || true)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
[ -n "$url" ] || { echo "smoke: the binary did not report a listening URL"; cat "$dir/log"; kill "$pid" 2>/dev/null; exit 1; }
curl -fsS "$url/health" | grep -q '"ok"' || { echo "smoke: /health failed"; cat "$dir/log"; kill "$pid"; exit 1; }
curl -fsS "$url/swagger" | grep -q 'swagger-ui' || { echo "smoke: /swagger failed"; kill "$pid"; exit 1; }
curl -fsS "$url/swagger/json" | grep -q '"openapi"' || { echo "smoke: /swagger/json failed"; kill "$pid"; exit 1; }
kill -TERM "$pid"
code=0; wait "$pid" || code=$?
[ "$code" = 0 ] || { echo "smoke: exit code $code after SIGTERM"; cat "$dir/log"; exit 1; }
echo "smoke: dist/bunim ok (health, swagger, SIGTERM exit 0)"
