# bash completion for lamina. The commands and options come from the installed
# binary's own help (`lamina --help`, `lamina help COMMAND`), so they follow it.
# Installed by `make install` into $(PREFIX)/share/bash-completion/completions/lamina.

_lamina_commands() {
	lamina --help 2>/dev/null | awk '/^Commands:/ {f = 1; next} /^$/ {f = 0} f && /^  [a-z]/ {print $1}'
}

_lamina_options() {
	# every long option the command's help names, and the global ones
	{ lamina help "$1" 2>/dev/null; lamina --help 2>/dev/null; } |
		grep -oE -- '(^|[ ,])--[a-z][a-z0-9-]*' | sed 's/^[ ,]//' | sort -u
}

# the "name" of each layer in a manifest, for --layer
_lamina_layers() {
	local m=$1
	[ -f "$m" ] || return 0
	grep -oE '"name"[[:space:]]*:[[:space:]]*"[^"]+"' "$m" | sed -E 's/.*"([^"]+)"$/\1/'
}

_lamina() {
	local cur prev cmd i manifest=
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--cache | --cache-max | -j | --jobs) ((i++)) ;;
		-*) ;;
		*) if [ -z "${cmd:-}" ]; then cmd=${COMP_WORDS[i]}; elif [ -z "$manifest" ]; then manifest=${COMP_WORDS[i]}; fi ;;
		esac
	done
	if [ -z "${cmd:-}" ]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_lamina_options '') --help --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_lamina_commands) help" -- "$cur")
		fi
		return 0
	fi
	case $cmd in
	help)
		mapfile -t COMPREPLY < <(compgen -W "$(_lamina_commands)" -- "$cur")
		return 0 ;;
	esac
	case $prev in
	-k | --kind) mapfile -t COMPREPLY < <(compgen -W "function layer" -- "$cur"); return 0 ;;
	--runtime) mapfile -t COMPREPLY < <(compgen -W "python node" -- "$cur"); return 0 ;;
	--platform) mapfile -t COMPREPLY < <(compgen -W "linux/amd64 linux/arm64" -- "$cur"); return 0 ;;
	-l | --layer) mapfile -t COMPREPLY < <(compgen -W "$(_lamina_layers "$manifest")" -- "$cur"); return 0 ;;
	-j | --jobs | --level | --compression-level | --timeout | --low-speed-limit | --low-speed-time | \
		--cache-max | --max | -t | --tag | --push | --username | --insecure-registry | --cache-from | \
		--cache-to | -i | --import | --env)
		return 0 ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_lamina_options "$cmd")" -- "$cur")
		return 0
	fi
	case $cmd in
	cache) [ "$COMP_CWORD" -le 2 ] && mapfile -t COMPREPLY < <(compgen -W "du prune" -- "$cur"); return 0 ;;
	init) mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return 0 ;;
	esac
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}
complete -o filenames -F _lamina lamina
