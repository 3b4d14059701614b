# zsh completion of lamina (contrib/completion/_lamina) with the completion system's builtins
# stubbed to print what they would offer. Run by tests/e2e/cli.sh:
#   zsh -f tests/tools/zsh-completion.zsh SITE_FUNCTIONS_DIR LAMINA_BIN_DIR
# Prints ok, or the first completion that lacks what it should offer (exit 1).
fpath=($1 $fpath)
path=($2 $path)
autoload -Uz _lamina
# the completion system's builtins, stubbed: each prints what it would offer
compadd() { if [[ $1 == -a ]]; then print -l -- ${(P)2}; else print -l -- "$@"; fi }
_describe() { print -l -- ${(P)4}; }
_files() { print -- "(files${1:+ $1})"; }
check() { # WANT WORDS...: the completions for the last word include WANT
	local want=$1; shift
	words=("$@"); CURRENT=$#words; PREFIX=${words[-1]}
	local got; got=$(_lamina)
	[[ ${(f)got} == *${~want}* ]] || { print -u2 "zsh completion of '$*': no $want in: ${got[1,300]}"; exit 1; }
}
check 'build:*' lamina ''
check 'verify:*' lamina help ''
check '--push' lamina build m.json --pu
check '--sbom' lamina push o.tar --sb
check 'node' lamina init --runtime ''
check 'linux/arm64' lamina build --platform ''
check 'prune' lamina cache ''
check '(files -/)' lamina init ''
print ok
