"""Shell completion generated from the argparse tree, so a new subcommand or option completes without anyone
editing a script: `completes` marks an argument whose values are stored ids, `tree` reads the parsers into nodes,
and one renderer per shell writes the same nodes as that shell's script.

A script finds where the cursor is by walking the words typed so far from the root: a word that is a subcommand of
the current node moves into it, an option that takes a value skips that value, and `--batch` moves to the batch's own
parser (it is a flag, not a subcommand). Ids come from hidden helpers (`sessions --ids`, `tasks list --ids`) that
print one a line, called with the `--db` typed on the line, so the script never reads the database itself.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field

# what the scripts call for an argument marked with `completes`: hidden helpers printing one id a line
ID_COMMANDS = {"sessions": "sessions --ids", "tasks": "tasks list --ids"}
SHELLS = ("bash", "zsh", "fish")
BATCH = "--batch"  # the node of `mkb-tui --batch ...`
SAFE = re.compile(r"[A-Za-z0-9._:/+=-]+")  # a word a script may hold unquoted ("@" marks an id kind)


def completes(action: argparse.Action, kind: str) -> argparse.Action:
    """Mark an argument as taking ids of `kind` (a key of ID_COMMANDS); returns it, to wrap add_argument."""
    if kind not in ID_COMMANDS:
        raise ValueError(f"no id helper for {kind!r}")
    action.completes = kind  # type: ignore[attr-defined]
    return action


@dataclass
class Node:
    """One parser: the words that complete at it."""

    key: str  # "" for the root, "sessions/rm", or BATCH
    commands: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    valued: dict[str, str] = field(default_factory=dict)  # option that takes a value -> its words, "@KIND" for ids, "" for any
    positional: str = ""  # the first positional's words, or "@KIND"


def _values(action: argparse.Action) -> str:
    kind = getattr(action, "completes", None)
    if kind:
        return "@" + kind
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return " ".join(str(c) for c in action.choices if SAFE.fullmatch(str(c)))
    return ""


def _walk(parser: argparse.ArgumentParser, key: str, out: list[Node]) -> None:
    node = Node(key)
    out.append(node)
    children = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            shown = {a.dest for a in action._choices_actions}  # subcommands with help (aliases and hidden ones are not listed)
            for name, sub in action.choices.items():
                if name in shown:
                    node.commands.append(name)
                children.append((name, sub))
        elif action.option_strings:
            if action.help == argparse.SUPPRESS:
                continue
            node.options += [o for o in action.option_strings if o.startswith("--")] or action.option_strings
            if action.nargs != 0:
                node.valued.update(dict.fromkeys(action.option_strings, _values(action)))
        elif not node.positional:
            node.positional = _values(action)
    for name, sub in children:
        _walk(sub, f"{key}/{name}" if key else name, out)


def tree() -> list[Node]:
    """Every node of `mkb-tui` and of `mkb-tui --batch`, root first."""
    from mkb_tui.cli.batch_cmd import parser as batch_parser
    from mkb_tui.cli.main import build_parser

    nodes: list[Node] = []
    _walk(build_parser(), "", nodes)
    _walk(batch_parser(), BATCH, nodes)
    return nodes


def script(shell: str) -> str:
    if shell not in SHELLS:
        raise ValueError(shell)
    nodes = tree()
    return _fish(nodes) if shell == "fish" else _sh(shell, nodes)


# ---------------------------------------------------------------- the node tables, as each shell writes a lookup
def _rows(nodes: list[Node]) -> list[tuple[str, str]]:
    """(pattern, words) rows of the lookup `node KEY WHAT` (WHAT: commands, options, valued, positional) and
    `value KEY OPTION`; keys never hold a space, so "KEY WHAT" is unambiguous."""
    rows = []
    for n in nodes:
        rows += [(f"{n.key} commands", " ".join(n.commands)), (f"{n.key} options", " ".join(n.options)),
                 (f"{n.key} valued", " ".join(n.valued)), (f"{n.key} positional", n.positional)]  # fmt: skip
        rows += [(f"{n.key} {option}", words) for option, words in n.valued.items() if words]
    return [(pattern, words) for pattern, words in rows if words]


def _sh_lookup(name: str, nodes: list[Node]) -> str:
    """A bash/zsh function: `NAME KEY WHAT` echoes the words (the same syntax in both shells)."""
    cases = "\n".join(f'        "{p}") echo "{w}" ;;' for p, w in _rows(nodes))
    return f'{name}() {{\n    case "$1 $2" in\n{cases}\n    esac\n}}\n'


IDS_SH = """_mkb_tui_ids() {  # $1 kind, $2 the --db typed on the line (an array: zsh does not split a word in two)
    local db=()
    [[ -n $2 ]] && db=(--db "$2")
    case "$1" in
%s
    esac
}
"""


def _ids_sh() -> str:
    return IDS_SH % "\n".join(f'        {k}) command mkb-tui "${{db[@]}}" {c} 2>/dev/null ;;' for k, c in ID_COMMANDS.items())


# the walk over the typed words, in bash/zsh syntax; FIRST is the index of the first word after `mkb-tui`
WALK_SH = """    local key="" db="" w i skip=0 values
    for ((i = FIRST; i < LAST; i++)); do
        w="${WORDS[i]}"
        if ((skip)); then
            skip=0
            [[ $prevopt == --db ]] && db="$w"
            continue
        fi
        if [[ $w == --batch && -z $key ]]; then
            key="--batch"
        elif [[ $w == -* ]]; then
            [[ " $(_mkb_tui_node "$key" valued) " == *" $w "* ]] && skip=1 && prevopt="$w"
        elif [[ " $(_mkb_tui_node "$key" commands) " == *" $w "* ]]; then
            key="${key:+$key/}$w"
        fi
    done
    if [[ $prev == -* && " $(_mkb_tui_node "$key" valued) " == *" $prev "* ]]; then
        values="$(_mkb_tui_node "$key" "$prev")"
    elif [[ $cur == -* ]]; then
        values="$(_mkb_tui_node "$key" options)"
    else
        values="$(_mkb_tui_node "$key" commands) $(_mkb_tui_node "$key" positional)"
    fi
    if [[ $values == *@* ]]; then
        w="${values##*@}"
        values="${values%@*} $(_mkb_tui_ids "$w" "$db")"
    fi
"""


# what differs between the bash and the zsh script: the header, where the typed words are, and how the words offered
# are handed back (bash falls back to file names by `-o default`, zsh by _files)
SH = {
    "bash": {"head": "# bash completion for mkb-tui, generated from its argparse tree by `mkb-tui completion bash`\n"
                     "# use: eval \"$(mkb-tui completion bash)\", or save it in ~/.local/share/bash-completion/completions/mkb-tui\n",
             "first": "1", "last": "COMP_CWORD", "words": "COMP_WORDS",
             "tail": '    COMPREPLY=($(compgen -W "$values" -- "$cur"))\n}\ncomplete -o default -F _mkb_tui mkb-tui\n'},
    "zsh": {"head": "#compdef mkb-tui\n# zsh completion for mkb-tui, generated from its argparse tree by `mkb-tui completion zsh`\n"
                    "# use: mkb-tui completion zsh > ~/.zfunc/_mkb-tui (with ~/.zfunc in $fpath), or eval it after compinit\n",
            "first": "2", "last": "CURRENT", "words": "words",
            "tail": '    local -a cands\n    cands=(${=values})\n    if (( ${#cands} )); then compadd -- $cands; else _files; fi\n}\n'
                    "compdef _mkb_tui mkb-tui\n"},
}  # fmt: skip


def _sh(shell: str, nodes: list[Node]) -> str:
    part = SH[shell]
    words, last = part["words"], part["last"]
    walk = WALK_SH.replace("FIRST", part["first"]).replace("LAST", last).replace("WORDS", words)
    return (part["head"] + _sh_lookup("_mkb_tui_node", nodes) + _ids_sh()
            + f'_mkb_tui() {{\n    local cur="${{{words}[{last}]}}" prev="${{{words}[{last}-1]}}" prevopt=""\n' + walk + part["tail"])  # fmt: skip


def _fish(nodes: list[Node]) -> str:
    cases = "\n".join(f"        case '{p}'\n            echo {w}" for p, w in _rows(nodes))
    ids = "\n".join(f"            case @{k}\n                command mkb-tui $db {c} 2>/dev/null" for k, c in ID_COMMANDS.items())
    return f"""# fish completion for mkb-tui, generated from its argparse tree by `mkb-tui completion fish`
# use: mkb-tui completion fish > ~/.config/fish/completions/mkb-tui.fish
function __mkb_tui_node
    switch "$argv[1] $argv[2]"
{cases}
    end
end

function __mkb_tui_complete
    set -l typed (commandline -opc)
    set -l cur (commandline -ct)
    set -l key ''
    set -l db
    set -l skip 0
    set -l prevopt ''
    for w in $typed[2..-1]
        if test $skip = 1
            set skip 0
            test "$prevopt" = --db; and set db --db $w
            continue
        end
        if test "$w" = --batch -a -z "$key"
            set key --batch
        else if string match -q -- '-*' $w
            if contains -- $w (string split ' ' -- (__mkb_tui_node "$key" valued))
                set skip 1
                set prevopt $w
            end
        else if contains -- $w (string split ' ' -- (__mkb_tui_node "$key" commands))
            test -z "$key"; and set key $w; or set key "$key/$w"
        end
    end
    set -l values
    if test $skip = 1
        set values (string split ' ' -- (__mkb_tui_node "$key" $prevopt))
    else if string match -q -- '-*' $cur
        set values (string split ' ' -- (__mkb_tui_node "$key" options))
    else
        set values (string split ' ' -- (__mkb_tui_node "$key" commands)) (string split ' ' -- (__mkb_tui_node "$key" positional))
    end
    for v in $values
        switch $v
{ids}
            case '@*'
            case '*'
                echo $v
        end
    end
end

complete -c mkb-tui -f -a '(__mkb_tui_complete)'
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh or fish)",
                       description="Print a completion script generated from mkb-tui's own commands and options. "
                                   "bash: eval \"$(mkb-tui completion bash)\"; zsh: save it as _mkb-tui in your $fpath; "
                                   "fish: save it as ~/.config/fish/completions/mkb-tui.fish.")  # fmt: skip
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=cmd_completion)


def cmd_completion(args) -> int:
    print(script(args.shell), end="")
    return 0
