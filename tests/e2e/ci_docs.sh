#!/usr/bin/env bash
# docs/ci.md works as written:
#  - every YAML block parses (python3-yaml; CloudFormation tags such as !Ref accepted);
#    every sh block passes bash -n;
#  - the GitHub Actions workflow's run steps and the GitLab CI jobs' scripts run here, in
#    order, against a password-protected registry on loopback standing in for ECR, in a
#    copy of images/python-hello built on the fixture base; the ${{ env.X }} and
#    ${{ steps.ID.outputs.K }} expressions and $GITHUB_OUTPUT / dotenv artifacts behave
#    as on the real services;
#  - AWS is stubbed and only AWS (`aws` in PATH): ecr get-login-password prints the test
#    registry's password; sts assume-role-with-web-identity prints dummy credentials;
#    lambda update-function-code checks that --image-uri is REPO@sha256:<hex> of a
#    manifest the registry holds; lambda wait succeeds. `uses:` steps and steps marked
#    "# ci-test: skip" (installing lamina) are not run;
#  - the blocks marked <!-- ci-test: run --> run too: the pushed digest, and the zip's
#    CodeSha256 (base64 of its SHA-256) equal to what lamina zip --json reports;
#  - $GITHUB_STEP_SUMMARY holds the digest and the build's report.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml is missing"
command -v jq >/dev/null || skip "jq is missing"
PY=$(fixture_base) || skip "python fixture could not be built"
REG_USER=AWS
start_registry htpasswd

mkdir -p "$T/bin" "$T/work"
ln -s "$LAMINA" "$T/bin/lamina"
cat >"$T/bin/aws" <<'EOF'
#!/usr/bin/env bash
# aws, stubbed for tests/e2e/ci_docs.sh: only what needs an AWS account
echo "aws $*" >>"$AWS_LOG"
arg() { local k=$1; shift; while [ $# -gt 0 ]; do [ "$1" = "$k" ] && { echo "$2"; return; }; shift; done; }
case "$1 $2" in
"ecr get-login-password") printf '%s\n' "$STUB_REG_PASS" ;;
"sts assume-role-with-web-identity")
	[ -n "$(arg --web-identity-token "$@")" ] || { echo "aws stub: no --web-identity-token" >&2; exit 1; }
	printf 'ASIASTUBKEY\tstub-secret\tstub-session-token\n' ;;
"lambda update-function-code")
	uri=$(arg --image-uri "$@")
	[[ $uri =~ ^([^/]+)/(.+)@(sha256:[0-9a-f]{64})$ ]] || { echo "aws stub: bad --image-uri '$uri'" >&2; exit 1; }
	code=$(curl -s -o /dev/null -w '%{http_code}' -u "AWS:$STUB_REG_PASS" \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://${BASH_REMATCH[1]}/v2/${BASH_REMATCH[2]}/manifests/${BASH_REMATCH[3]}")
	[ "$code" = 200 ] || { echo "aws stub: $uri is not in the registry ($code)" >&2; exit 1; }
	echo "$uri" >>"$AWS_DEPLOYED"
	printf '{"FunctionName": "%s", "PackageType": "Image"}\n' "$(arg --function-name "$@")" ;;
"lambda wait") ;;
*) echo "aws stub: '$*' is not stubbed" >&2; exit 1 ;;
esac
EOF
chmod +x "$T/bin/aws"
export AWS_LOG="$T/aws.log" AWS_DEPLOYED="$T/deployed.txt" STUB_REG_PASS="$REG_PASS"
: >"$AWS_DEPLOYED"

cp -r "$REPO/images/python-hello/." "$T/work/"
jq --arg b "oci-archive:$PY" '.base = $b' "$REPO/images/python-hello/lamina.json" >"$T/work/lamina.json"

python3 - "$REPO/docs/ci.md" "$T" "$REG" <<'PYX' || fail "docs/ci.md's pipelines"
import json, os, re, subprocess, sys
import yaml

doc, T, REG = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(doc).read()
work = os.path.join(T, "work")

class Loader(yaml.SafeLoader):
    pass
# CloudFormation's short forms (!Ref, !Sub, !GetAtt ...) are tags PyYAML does not know
Loader.add_multi_constructor("!", lambda loader, suffix, node:
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else
    loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else loader.construct_mapping(node))

# fences at the start of a line (an indented ``` inside a block does not close it)
blocks = re.findall(r"^(<!-- ci-test: run -->\n)?```(\w+)\n(.*?)^```[ \t]*$", text, re.S | re.M)
docs = []
for marker, lang, body in blocks:
    if lang == "yaml":
        docs.append(yaml.load(body, Loader=Loader))
    elif lang == "sh":
        r = subprocess.run(["bash", "-n"], input=body, text=True, capture_output=True)
        if r.returncode:
            sys.exit(f"sh block does not parse: {r.stderr}\n{body}")
gha = [d for d in docs if isinstance(d, dict) and "jobs" in d]
glc = [d for d in docs if isinstance(d, dict) and "stages" in d]
sam = [d for d in docs if isinstance(d, dict) and "AWSTemplateFormatVersion" in d]
assert len(gha) == 1 and len(glc) == 1 and len(sam) == 1, (len(gha), len(glc), len(sam))
assert sam[0]["Resources"]["HelloFunction"]["Properties"]["ImageUri"] == "ImageUri"

base_env = dict(os.environ)
base_env["PATH"] = os.path.join(T, "bin") + ":" + base_env["PATH"]

def local(env):
    # the registry on loopback stands in for ECR
    env = {k: str(v) for k, v in env.items()}
    env["ECR_REGISTRY"] = REG
    return env

def run(script, env, what):
    r = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=work, env=env,
                       text=True, capture_output=True)
    sys.stderr.write(f"--- {what}\n{r.stderr}")
    if r.returncode:
        sys.exit(f"{what}: exit {r.returncode}\n{script}\nstdout: {r.stdout}")
    return r.stdout

def skipped(script):
    if "# ci-test: skip" in script:
        return True
    # what installs software must be marked: it is never run here
    if re.search(r"\b(apt-get|apt|sudo|git clone|make -C|pip install|npm (ci|install))\b", script):
        sys.exit(f"an install step is not marked '# ci-test: skip':\n{script}")
    return False

# --- GitHub Actions -------------------------------------------------------------------
wf = gha[0]
assert wf["permissions"]["id-token"] == "write"
job = wf["jobs"]["deploy"]
outputs = {}
summary = os.path.join(T, "summary.md")
open(summary, "w").close()
ran = 0
for i, step in enumerate(job["steps"]):
    if "uses" in step:
        if step["uses"].startswith("aws-actions/configure-aws-credentials"):
            assert "role-to-assume" in step["with"], "OIDC: role-to-assume"
        continue
    script = step["run"]
    if skipped(script):
        continue
    env = dict(base_env)
    env.update(wf.get("env", {}))
    env.update(job.get("env", {}))
    env.update(step.get("env", {}))
    env = local(env)
    env.update(GITHUB_SHA="0123456789abcdef0123456789abcdef01234567", GITHUB_STEP_SUMMARY=summary)
    out_file = os.path.join(T, f"gh-output-{i}")
    open(out_file, "w").close()
    env["GITHUB_OUTPUT"] = out_file
    def expr(m):
        e = m.group(1).strip()
        if e.startswith("env."):
            return env[e[4:]]
        mm = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", e)
        if mm:
            return outputs[mm.group(1)][mm.group(2)]
        sys.exit(f"expression not handled by the test: {e}")
    script = re.sub(r"\$\{\{(.*?)\}\}", expr, script)
    run(script, env, f"github step {step.get('name', i)}")
    ran += 1
    if "id" in step:
        outputs[step["id"]] = dict(l.split("=", 1) for l in open(out_file).read().splitlines() if "=" in l)
assert ran >= 4, ran
digest = outputs["push"]["digest"]
assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), digest
deployed = open(os.environ["AWS_DEPLOYED"]).read().split()
assert deployed == [f"{REG}/hello@{digest}"], deployed
s = open(summary).read()
assert digest in s and "base" in s, s
print("github actions: pushed and deployed", digest)

# --- GitLab CI ------------------------------------------------------------------------
gl = glc[0]
keywords = {"stages", "variables", "default", "workflow", "include"}
jobs = {k: v for k, v in gl.items() if k not in keywords and not k.startswith(".")}
def resolved(j):
    out = {}
    for parent in ([j["extends"]] if isinstance(j.get("extends"), str) else j.get("extends", [])):
        out.update(resolved(gl[parent]))
    out.update({k: v for k, v in j.items() if k != "extends"})
    return out
dotenv = {}
open(os.environ["AWS_DEPLOYED"], "w").close()
for stage in gl["stages"]:
    for name, j in jobs.items():
        j = resolved(j)
        if j.get("stage") != stage:
            continue
        env = dict(base_env)
        env.update(gl.get("variables", {}))
        env.update(j.get("variables", {}))
        env = local(env)
        env.update(dotenv)
        env.update(CI_COMMIT_SHORT_SHA="0123abcd", CI_PIPELINE_ID="42")
        for tok in j.get("id_tokens", {}):
            env[tok] = "stub-oidc-jwt"
        lines = [l for l in j.get("before_script", []) + j["script"] if not skipped(l)]
        run("\n".join(lines), env, f"gitlab job {name}")
        de = j.get("artifacts", {}).get("reports", {}).get("dotenv")
        if de:
            dotenv.update(dict(l.split("=", 1) for l in open(os.path.join(work, de)).read().splitlines() if "=" in l))
deployed = open(os.environ["AWS_DEPLOYED"]).read().split()
assert len(deployed) == 1 and deployed[0] == f"{REG}/hello@{dotenv['IMAGE_DIGEST']}", (deployed, dotenv)
assert "sts assume-role-with-web-identity" in open(os.environ["AWS_LOG"]).read()
print("gitlab ci: pushed and deployed", dotenv["IMAGE_DIGEST"])

# --- the blocks marked as tested --------------------------------------------------------
env = local(dict(base_env, AWS_REGION="us-east-1", ECR_REPOSITORY="hello"))
marked = [body for marker, lang, body in blocks if marker and lang == "sh"]
assert len(marked) >= 2, len(marked)
out = run("\n".join(marked), env, "marked sh blocks")
lines = out.split()
assert re.fullmatch(rf"{re.escape(REG)}/hello@sha256:[0-9a-f]{{64}}", lines[0]), lines
code_sha256 = lines[1]
open(os.path.join(T, "code_sha256"), "w").write(code_sha256)
print("iac: image uri", lines[0], "codeSha256", code_sha256)
PYX

# CodeSha256 as computed in the docs is what lamina reports, and the base64 of the zip's
# SHA-256 as lamina printed it in hex
cd "$T/work"
want=$(cat "$T/code_sha256")
"$LAMINA" zip lamina.json --json >zip.json 2>/dev/null
grep -qF "\"$want\"" zip.json || fail "lamina zip --json lacks CodeSha256 $want"
"$LAMINA" zip lamina.json -o again.zip 2>zip.err >/dev/null
grep -qF "CodeSha256 $want" zip.err || { cat zip.err >&2; fail "lamina zip -o shows no CodeSha256"; }
hex=$(cut -d: -f2 zip-digest.txt)
assert_eq "$(printf '%s' "$hex" | xxd -r -p | base64)" "$want" "base64 of the printed digest"
echo "ci_docs: ok"
