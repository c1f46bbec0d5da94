// What `pim env`, `pim exec` and `pim shell-init` print: pure text, safely quoted. Nothing secret
// goes through a shell: the environment names a profile and a context, the credentials stay in
// their 0600 files behind the helper.
import path from 'node:path';
import { checkEmbeddablePath } from '../../platform/fs-safe';

export type Shell = 'bash' | 'zsh' | 'fish' | 'sh';

export const SHELLS: readonly Shell[] = ['bash', 'zsh', 'fish', 'sh'];

/** POSIX single-quoting: safe for any byte string (a ' becomes '\''). */
export function quoteSh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** fish single-quoting: only \ and ' are special inside. */
export function quoteFish(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** `export NAME='value'` lines (or fish `set -gx`), in a stable order. */
export function exportLines(vars: Record<string, string>, shell: Shell): string {
  return Object.keys(vars)
    .sort()
    .map((k) => {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`not an environment variable name: ${k}`);
      return shell === 'fish' ? `set -gx ${k} ${quoteFish(vars[k]!)};\n` : `export ${k}=${quoteSh(vars[k]!)};\n`;
    })
    .join('');
}

/**
 * The environment that selects a role's credentials: AWS_PROFILE for its (first) AWS profile,
 * and for kube a KUBECONFIG list whose first file only sets current-context to the role's context
 * (`contextFile`), followed by the user's own kubeconfig files — so kubectl in that shell uses the
 * role without `current-context` changing for every other terminal.
 */
export function roleEnv(o: {
  awsProfile: string | null;
  contextFile: string | null;
  kubeconfig: string | undefined;
  defaultKubeconfig: string;
}): Record<string, string> {
  const env: Record<string, string> = {};
  if (o.awsProfile) env.AWS_PROFILE = o.awsProfile;
  if (o.contextFile)
    env.KUBECONFIG = [
      o.contextFile,
      ...(o.kubeconfig ? o.kubeconfig.split(path.delimiter).filter(Boolean) : [o.defaultKubeconfig]),
    ].join(path.delimiter);
  return env;
}

/** The small kubeconfig `roleEnv` puts first: nothing in it but the context's name. */
export function contextFileText(context: string): string {
  return `# written by PIM Agent for \`pim env\`: selects ${context}; removed with the role\napiVersion: v1\nkind: Config\ncurrent-context: ${context}\n`;
}

/**
 * `pim shell-init SHELL`: a prompt segment showing the active roles and minutes left, read from
 * `<creds>/active` ("role endEpoch" lines the agent keeps) — no Node start-up per prompt, nothing
 * secret. Put `eval "$(pim shell-init bash)"` in ~/.bashrc (zsh: ~/.zshrc; fish:
 * `pim shell-init fish | source` in config.fish).
 */
export function shellInit(shell: Shell, credsDir: string): string {
  return promptSegment(shell, credsDir) + trailHook(shell, credsDir);
}

/**
 * The session command trail (policy: `activation.sessionTrail: true`, off by default): while such
 * a role is active, each command line typed is appended to `<creds>/trail.spool` as
 * "epoch TAB role TAB encoding TAB command" (encoding b: \\, \n, \t, \r escaped; u: URL-encoded),
 * and the agent moves it into the audit journal. The roles and their ends come from
 * `<creds>/trail`, which the agent writes; a shell with no trailed role active writes nothing.
 */
function trailHook(shell: Shell, credsDir: string): string {
  const trail = checkEmbeddablePath(path.join(credsDir, 'trail'), 'the PIM Agent state folder');
  const spool = path.join(credsDir, 'trail.spool');
  const record = (now: string) => `  while read -r __pim_role __pim_end; do
    case "$__pim_end" in ''|*[!0-9]*) continue;; esac
    [ "$__pim_end" -gt "${now}" ] || continue
    printf '%s\\t%s\\tb\\t%s\\n' "${now}" "$__pim_role" "$__pim_cmd" >> ${quoteSh(spool)}
  done < ${quoteSh(trail)}`;
  const escape = `  __pim_cmd=\${__pim_cmd//\\\\/\\\\\\\\}
  __pim_cmd=\${__pim_cmd//$'\\n'/\\\\n}
  __pim_cmd=\${__pim_cmd//$'\\t'/\\\\t}
  __pim_cmd=\${__pim_cmd//$'\\r'/\\\\r}`;
  switch (shell) {
    case 'bash':
      return `# PIM Agent session trail: commands typed while a role with sessionTrail is active are journaled
__pim_preexec() {
  [ -n "$__pim_ready" ] || return 0
  __pim_ready=
  [ -r ${quoteSh(trail)} ] || return 0
  local __pim_line __pim_cmd __pim_now __pim_role __pim_end
  __pim_line=$(HISTTIMEFORMAT= builtin history 1)
  [[ $__pim_line =~ ^[[:space:]]*[0-9]+[*]?[[:space:]]+(.*)$ ]] || return 0
  __pim_cmd=\${BASH_REMATCH[1]}
${escape}
  printf -v __pim_now '%(%s)T' -1
${record('$__pim_now')}
  return 0
}
if declare -p preexec_functions >/dev/null 2>&1; then
  case " \${preexec_functions[*]} " in *" __pim_trail_bp "*) ;; *) __pim_trail_bp() { __pim_ready=1; __pim_preexec; }; preexec_functions+=(__pim_trail_bp);; esac
elif [ -z "$(trap -p DEBUG)" ]; then
  trap '__pim_preexec' DEBUG
  case "$PROMPT_COMMAND" in *__pim_ready=1*) ;; *) PROMPT_COMMAND="\${PROMPT_COMMAND:+$PROMPT_COMMAND;}__pim_ready=1";; esac
fi
`;
    case 'zsh':
      return `# PIM Agent session trail: commands typed while a role with sessionTrail is active are journaled
zmodload zsh/datetime 2>/dev/null
__pim_preexec() {
  [ -r ${quoteSh(trail)} ] || return 0
  local __pim_cmd="$1" __pim_now="$EPOCHSECONDS" __pim_role __pim_end
${escape}
${record('$__pim_now')}
  return 0
}
autoload -Uz add-zsh-hook && add-zsh-hook preexec __pim_preexec
`;
    case 'fish':
      return `# PIM Agent session trail: commands typed while a role with sessionTrail is active are journaled
function __pim_preexec --on-event fish_preexec
    test -r ${quoteFish(trail)}; or return 0
    set -l now (date +%s)
    set -l cmd (string escape --style=url -- $argv[1])
    while read -l role end
        string match -qr '^[0-9]+$' -- $end; or continue
        test $end -gt $now; or continue
        printf '%s\\t%s\\tu\\t%s\\n' $now $role "$cmd" >> ${quoteFish(spool)}
    end < ${quoteFish(trail)}
end
`;
    case 'sh':
      return '';
  }
}

function promptSegment(shell: Shell, credsDir: string): string {
  const active = quoteSh(checkEmbeddablePath(path.join(credsDir, 'active'), 'the PIM Agent state folder'));
  const body = `  [ -r ${active} ] || return 0
  __pim_now=$(date +%s)
  __pim_out=''
  while read -r __pim_role __pim_end; do
    case "$__pim_end" in ''|*[!0-9]*) continue;; esac
    [ "$__pim_end" -gt "$__pim_now" ] || continue
    __pim_out="$__pim_out\${__pim_out:+ }$__pim_role:$(( (__pim_end - __pim_now + 59) / 60 ))m"
  done < ${active}
  [ -n "$__pim_out" ] && printf '[pim %s] ' "$__pim_out"
  return 0`;
  switch (shell) {
    case 'bash':
      return `# PIM Agent prompt segment: active roles and minutes left
__pim_prompt() {
${body}
}
case "$PS1" in *__pim_prompt*) ;; *) PS1='$(__pim_prompt)'"$PS1";; esac
`;
    case 'zsh':
      return `# PIM Agent prompt segment: active roles and minutes left
__pim_prompt() {
${body}
}
setopt PROMPT_SUBST
case "$PROMPT" in *__pim_prompt*) ;; *) PROMPT='$(__pim_prompt)'"$PROMPT";; esac
`;
    case 'sh':
      return `# PIM Agent prompt segment (POSIX sh): call __pim_prompt from your PS1
__pim_prompt() {
${body}
}
`;
    case 'fish': {
      const f = quoteFish(path.join(credsDir, 'active'));
      return `# PIM Agent prompt segment: active roles and minutes left
function __pim_prompt
    test -r ${f}; or return 0
    set -l now (date +%s)
    set -l out
    while read -l role end
        string match -qr '^[0-9]+$' -- $end; or continue
        test $end -gt $now; or continue
        set -a out $role:(math --scale=0 "($end - $now + 59) / 60")m
    end < ${f}
    test (count $out) -gt 0; and printf '[pim %s] ' "$out"
end
if not functions -q __pim_orig_prompt
    functions -c fish_prompt __pim_orig_prompt
    function fish_prompt
        __pim_prompt
        __pim_orig_prompt
    end
end
`;
    }
  }
}
