import type { Verb } from './commands.js';

/** A bash completion script: subcommands, then each subcommand's flags. */
export function bashCompletion(verbs: Verb[]): string {
  const global = '--os-image-url --os-auth-token --json --help';
  const cases = verbs.map((v) => `    ${v.name}) flags="${Object.keys(v.options).map((o) => `--${o}`).join(' ')} ${global}" ;;`).join('\n');
  return `# bash completion for skyglass: source <(skyglass completion bash)
_skyglass() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" verb="" flags="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) case "\${COMP_WORDS[i-1]}" in --os-image-url|--os-auth-token) ;; *) verb="\${COMP_WORDS[i]}"; break ;; esac ;; esac
  done
  case "$prev" in --file) COMPREPLY=($(compgen -f -- "$cur")); return ;; esac
  if [[ -z "$verb" ]]; then
    COMPREPLY=($(compgen -W "${verbs.map((v) => v.name).join(' ')} help ${global} --version" -- "$cur"))
    return
  fi
  case "$verb" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$flags" -- "$cur"))
}
complete -o default -F _skyglass skyglass
`;
}
