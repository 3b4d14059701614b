#!/usr/bin/env bash
# lamina pull from a local docker-registry in each auth set-up: none, htpasswd (Basic,
# from --password-stdin and from a docker config), token (anonymous bearer like public.ecr.aws).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"

for mode in none htpasswd token; do
	start_registry "$mode"
	seed_fixture lambda/python:3.12
	export XDG_CACHE_HOME="$T/cache-$mode"
	if [ "$mode" = htpasswd ]; then
		# without credentials: one clear auth error (exit 6)
		rc=0; run_lamina -q pull "$REG/lambda/python:3.12" || rc=$?
		assert_eq "$rc" 6 "exit status without credentials"
		assert_contains "$T/err" "needs a login"
		# --password-stdin
		rc=0
		printf '%s\n' "$REG_PASS" | "$LAMINA" -v pull --username "$REG_USER" --password-stdin \
			"$REG/lambda/python:3.12" >"$T/out" 2>"$T/err" || rc=$?
		[ $rc -eq 0 ] || { cat "$T/err" >&2; fail "pull with --password-stdin"; }
		assert_not_contains "$T/err" "$REG_PASS"
		# docker config auths
		mkdir -p "$T/dockercfg"
		printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" \
			>"$T/dockercfg/config.json"
		rm -rf "$XDG_CACHE_HOME"
		DOCKER_CONFIG="$T/dockercfg" run_lamina pull "$REG/lambda/python:3.12" || { cat "$T/err" >&2; fail "pull with docker config"; }
	else
		run_lamina -v pull "$REG/lambda/python:3.12" || { cat "$T/err" >&2; fail "pull ($mode)"; }
	fi
	if [ "$mode" = token ]; then
		# a docker config identity token: the OAuth2 refresh-token grant (POST), as docker does
		mkdir -p "$T/idcfg"
		printf '{"auths":{"%s":{"identitytoken":"%s"}}}\n' "$REG" "$REG_REFRESH" >"$T/idcfg/config.json"
		DOCKER_CONFIG="$T/idcfg" XDG_CACHE_HOME="$T/cache-idtok" run_lamina pull "$REG/lambda/python:3.12" \
			|| { cat "$T/err" >&2; fail "pull with an identity token"; }
		assert_contains "$TOKEN_LOG" "token 200 refresh user=$REG_USER scopes=repository:lambda/python:pull"
		printf '{"auths":{"%s":{"identitytoken":"wrong"}}}\n' "$REG" >"$T/idcfg/config.json"
		rc=0; DOCKER_CONFIG="$T/idcfg" XDG_CACHE_HOME="$T/cache-idtok2" run_lamina pull "$REG/lambda/python:3.12" || rc=$?
		assert_eq "$rc" 6 "exit status with a wrong identity token"
		assert_eq "$(wc -l <"$T/err")" 1 "one error line"
		assert_not_contains "$T/err" "wrong"
		run_lamina -v pull "$REG/lambda/python:3.12" || { cat "$T/err" >&2; fail "pull ($mode) again"; }
	fi
	assert_contains "$T/out" "^$REG/lambda/python:3\.12@sha256:[0-9a-f]{64}$"
	assert_eq "$(grep -c '^layer ' "$T/out")" 3 "layers"
	want=$(skopeo inspect --raw --tls-verify=false ${REG_MODE:+$( [ "$mode" = none ] || echo --creds "$(reg_creds)")} \
		"docker://$REG/lambda/python:3.12" | sha256sum | cut -c1-64)
	assert_contains "$T/out" "@sha256:$want$"
	if [ "$mode" = token ]; then
		assert_contains "$TOKEN_LOG" "token 200 user=- scopes=repository:lambda/python:pull"
	fi
	check_cache_clean
	kill "$REG_PID"; wait "$REG_PID" 2>/dev/null || true
	[ "$mode" = token ] && { kill "$TOKEN_PID"; wait "$TOKEN_PID" 2>/dev/null || true; }
done
echo ok
