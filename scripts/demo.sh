#!/usr/bin/env bash
# The main job on the shipped example, offline: build images/python-hello on the fixture
# base (shaped like public.ecr.aws/lambda/python:3.12, made from Debian's python3.11),
# then show what the archive holds and run the handler inside the image.
#   LAMINA=build/lamina scripts/demo.sh            (make demo does this)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
LAMINA=${LAMINA:-$repo/build/lamina}
out=${OUT:-$repo/out/python-hello.tar}
mkdir -p "$(dirname "$out")"

echo "== fixture base (offline stand-in for public.ecr.aws/lambda/python:3.12)"
base=$("$repo/scripts/make-fixture-base.sh")
echo "$base"

echo "== lamina build images/python-hello/lamina.json"
time "$LAMINA" build "$repo/images/python-hello/lamina.json" --base "oci-archive:$base" -o "$out"

echo "== lamina inspect $out"
"$LAMINA" inspect "$out"

echo "== lamina verify: import the app and call its handler inside the image"
echo '{"name": "demo"}' >"$(dirname "$out")/event.json"
"$LAMINA" verify "$out" --event "$(dirname "$out")/event.json"

cat <<MSG

Built $out. Load it into Docker with:   docker load -i $out
and run it with its emulator:           docker run -d -p 9000:8080 python-hello:latest
                                        curl -d '{"name":"you"}' http://localhost:9000/2015-03-31/functions/function/invocations
With network access, build on the real base by dropping --base (the manifest names
public.ecr.aws/lambda/python:3.12).
MSG
