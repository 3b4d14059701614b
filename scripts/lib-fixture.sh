# Shared by the fixture scripts (make-fixture-*.sh, workload-*.sh, esbuild-fixture.sh).
# Source it:  . "$(dirname "${BASH_SOURCE[0]}")/lib-fixture.sh"
#
# A cached fixture OUT (a file or a directory) is reused only when OUT.key stamps it: the
# key of the inputs it was made from, and the identity (inode, size, mtime) of the very
# OUT that was made. A stamp that outlived its output (OUT rebuilt or replaced since), or
# one shared through a hard link with another cache, is not trusted: the fixture is made
# again. The stamp is written to a new file and renamed, never through an existing inode.
# (A directory's identity is its inode and birth time: what runs from it may add caches inside.)
#
#   fixture_fresh OUT KEY    0 when OUT.key stamps OUT for KEY
#   fixture_stamp OUT KEY    stamp OUT (after OUT is in place)
#   fixture_key FILE...      a key from the contents of FILEs (sha256 of their sha256s)

fixture_identity() {
	if [ -d "$1" ]; then stat -c 'dir %i %w' "$1"; else stat -c 'file %i %w %s %Y' "$1"; fi 2>/dev/null
}

fixture_fresh() {
	[ -e "$1" ] && [ -f "$1.key" ] && [ "$(cat "$1.key" 2>/dev/null)" = "$2 $(fixture_identity "$1")" ]
}

fixture_stamp() {
	local tmp="$1.key.tmp.$$"
	printf '%s %s\n' "$2" "$(fixture_identity "$1")" >"$tmp" && mv -f "$tmp" "$1.key"
}

fixture_key() { sha256sum "$@" | sed 's,  .*/,  ,' | sha256sum | cut -c1-64; }
