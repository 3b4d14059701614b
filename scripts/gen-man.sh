#!/usr/bin/env bash
# Writes the manual pages from the binary's own help, so they cannot drift from it:
#   scripts/gen-man.sh LAMINA OUTDIR
# lamina.1 from `lamina --help`, lamina-COMMAND.1 from `lamina help COMMAND` for every
# command `lamina --help` lists. The help text's shape becomes roff: "usage:" lines the
# SYNOPSIS, "Heading:" lines sections, "  -x, --opt ARG   text" option items (.TP) with
# their indented continuation lines, other indented blocks verbatim, blank lines paragraphs.
set -euo pipefail
lamina=${1:?usage: gen-man.sh LAMINA OUTDIR}
out=${2:?usage: gen-man.sh LAMINA OUTDIR}
mkdir -p "$out"
version=$("$lamina" --version | awk '{print $2}')
# A fixed date keeps the pages reproducible (SOURCE_DATE_EPOCH when set).
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-315532800}" +%Y-%m-%d)

commands=$("$lamina" --help | awk '/^Commands:/ {f = 1; next} /^$/ {f = 0} f && /^  [a-z]/ {print $1}')

# roff from help text on stdin; $1 page name (lamina-build), $2 one-line summary, $3 see-also
to_roff() {
	# through the environment: awk -v would interpret the backslashes
	PAGE=$1 SUMMARY=$2 SEEALSO=$3 VERSION=$version DATE=$date awk '
	function esc(s) {
		gsub(/\\/, "\\e", s)
		if (s ~ /^[.\047]/) s = "\\&" s
		return s
	}
	function opt(s) { s = esc(s); gsub(/-/, "\\-", s); return s }
	function flush_nf() { if (nf) { print ".fi"; nf = 0 } }
	BEGIN {
		page = ENVIRON["PAGE"]; summary = ENVIRON["SUMMARY"]; seealso = ENVIRON["SEEALSO"]
		version = ENVIRON["VERSION"]; date = ENVIRON["DATE"]
		up = toupper(page)
		printf ".TH %s 1 \"%s\" \"lamina %s\" \"lamina manual\"\n", up, date, version
		print ".SH NAME"
		printf "%s \\- %s\n", opt(page), esc(summary)
		print ".SH SYNOPSIS"
		state = "synopsis"
	}
	state == "synopsis" {
		if ($0 ~ /^usage: /) { sub(/^usage: /, ""); print ".nf"; print opt($0); next }
		if ($0 ~ /^       [a-z]/) { sub(/^ +/, ""); print opt($0); next }
		print ".fi"; print ".SH DESCRIPTION"; state = "body"
	}
	/^$/ { flush_nf(); inopt = 0; print ".PP"; next }
	/^[A-Z][^:]*:$/ && length($0) < 72 {
		flush_nf(); inopt = 0
		h = $0; sub(/:$/, "", h)
		printf ".SS %s\n", esc(h); next
	}
	/^ +-/ && match($0, /-/) && RSTART <= 7 {
		flush_nf()
		line = $0; sub(/^ +/, "", line)
		tag = line; body = ""
		if (match(line, /  +/)) { tag = substr(line, 1, RSTART - 1); body = substr(line, RSTART + RLENGTH) }
		print ".TP"; print "\\fB" opt(tag) "\\fR"
		if (body != "") print esc(body)
		inopt = 1; next
	}
	inopt && /^        +[^ ]/ { line = $0; sub(/^ +/, "", line); print esc(line); next }
	/^ / { inopt = 0; if (!nf) { print ".nf"; nf = 1 } print esc($0); next }
	{ flush_nf(); inopt = 0; print esc($0) }
	END {
		flush_nf()
		if (seealso != "") { print ".SH SEE ALSO"; print seealso }
	}'
}

see_main=""
for c in $commands; do
	see_main+="${see_main:+, }\\fBlamina\\-$c\\fR(1)"
	summary=$("$lamina" --help | awk -v c="$c" '/^Commands:/ {f = 1; next} /^$/ {f = 0}
		f && $1 == c {sub(/^  [a-z]+ +/, ""); print; exit}')
	"$lamina" help "$c" | to_roff "lamina-$c" "$summary" "\\fBlamina\\fR(1)" >"$out/lamina-$c.1.tmp"
	mv "$out/lamina-$c.1.tmp" "$out/lamina-$c.1"
done
"$lamina" --help | to_roff lamina "build small, fast-starting AWS Lambda container images and zips" "$see_main" \
	>"$out/lamina.1.tmp"
mv "$out/lamina.1.tmp" "$out/lamina.1"
