# DevTrace's agent hook: what `devtrace hook install AGENT` puts in a coding agent's settings,
#     exec /bin/sh /PATH/TO/devtrace/capture/hooks/agent.sh AGENT PYTHON [STORE]
# The agent waits for it, so it does the least: the payload (stdin) goes into the store's
# spool as one `agent AGENT` record (see devtrace.capture.spool), and the store's drainer
# (PYTHON, this file's DevTrace) is started only when none is alive. The parsing, the
# transcripts and git are the drainer's work. POSIX sh, builtins only but the one `cat`;
# no output, exit 0 whatever happens: an agent reads a hook's output as instructions.
# STORE: the store given at install, else $DEVTRACE_PATH, else ~/.devtrace.
trap '' HUP INT PIPE
exec >/dev/null 2>&1
agent=$1 python=$2 store=${3:-${DEVTRACE_PATH:-$HOME/.devtrace}}
case $store in
"~") store=$HOME ;;
"~/"*) store=$HOME/${store#"~/"} ;;
/*) ;;
*) store=$PWD/$store ;;
esac
umask 077
set -C # a name still taken (a pid used again before its record was drained): the next one
n=0
while [ "$n" -lt 4 ]; do
    # One file per record, complete once it ends in RS LF; its modification time is when the
    # payload arrived.
    if { printf 'DTSPOOL 1 agent %s\n' "$agent" && cat && printf '\036\n'; } >"$store/spool/agent.$$.$n.rec"; then
        break
    fi
    [ -d "$store/spool" ] || mkdir -p -m 700 "$store/spool" || break
    n=$((n + 1))
done
pid= comm=
{ read -r pid <"$store/drainer.pid" && read -r comm <"/proc/$pid/comm"; }
if [ "$comm" != devtrace-drain ]; then
    "$python" -I -S -c 'import sys; sys.path.insert(0, sys.argv.pop(1))
from devtrace.capture.drainer import main; sys.exit(main(sys.argv[1:]))' \
        "${0%/devtrace/capture/hooks/agent.sh}" --path "$store" </dev/null &
fi
exit 0
