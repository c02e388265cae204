#!/usr/bin/env bash
# Self-check of goyamux-peer: Go against Go (and a few raw-frame peers written in Python)
# for every scenario, checking exit codes and key output lines. Needs golang-go,
# golang-github-hashicorp-yamux-dev and python3. Usage: ./verify.sh [path/to/binary]
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${1:-/tmp/goyamux-peer}
if [ $# -eq 0 ]; then
  (cd "$here" && GOPATH=/usr/share/gocode GO111MODULE=off go build -o "$B" .) || exit 1
fi
T=$(mktemp -d /tmp/goyamux-verify.XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
TO="-timeout 30s"

check() { # name want_rc got_rc file pattern
  if [ "$3" = "$2" ] && grep -q -- "$5" "$4"; then
    passed=$((passed+1)); echo "PASS $1 (rc=$3)"
  else
    failed=$((failed+1)); echo "FAIL $1 (rc=$3, want $2; wanted /$5/ in $4)"; sed 's/^/    /' "$4" | head -20
  fi
}

# start_listener NAME ARGS... : runs B with -listen in the background; sets LADDR.
start_listener() {
  local name=$1; shift
  rm -f "$T/$name.out"
  ( "$B" "$@" >"$T/$name.out" 2>"$T/$name.err"; echo "rc=$?" >>"$T/$name.out" ) &
  LPID=$!
  for _ in $(seq 100); do
    LADDR=$(sed -n 's/^listening //p' "$T/$name.out" 2>/dev/null | head -1)
    [ -n "$LADDR" ] && return 0
    sleep 0.05
  done
  echo "listener $name did not start"; cat "$T/$name.err"; return 1
}
# check1 NAME WANT_RC GOT_RC FILE REGEX: like check, and FILE is exactly one line (benchmark output)
check1() {
  if [ "$(grep -c . "$4")" = 1 ]; then check "$@"; else
    failed=$((failed+1)); echo "FAIL $1 (want exactly one stdout line in $4)"; sed 's/^/    /' "$4" | head -20; fi
}
# in_range NAME FILE KEY LO HI: the integer after KEY= in FILE is in [LO,HI]
in_range() {
  local v; v=$(grep -o "$3=-\?[0-9]*" "$2" | head -1 | cut -d= -f2)
  if [ -n "$v" ] && [ "$v" -ge "$4" ] && [ "$v" -le "$5" ]; then passed=$((passed+1)); echo "PASS $1 ($3=$v)"
  else failed=$((failed+1)); echo "FAIL $1 ($3=$v not in [$4,$5])"; fi
}
N='[0-9][0-9]*'; F='[0-9][0-9]*\.[0-9]*'
# the benchmark lines, with the count pinned
churn_re() { echo "^churn ops=$1 seconds=$F ops_per_second=$F peak_fds=$N\$"; }
rtt_re() { echo "^rtt count=$1 p50_us=[0-9]*\.[0-9] p99_us=[0-9]*\.[0-9] ops_per_second=$F\$"; }
netrpc_re() { echo "^netrpc calls=$1 parallel=$2 size=$3 calls_per_second=$F p50_us=[0-9]*\.[0-9] p99_us=[0-9]*\.[0-9]\$"; }
idle_re() { echo "^idle streams=$1 heap_bytes_per_stream=-\?$N rss_bytes_per_stream=-\?$N fds=$N\$"; }
listener_rc() { wait $LPID; LRC=$(sed -n 's/^rc=//p' "$T/$1.out"); } # sets LRC
run() { # name args... : foreground run, sets RC
  local name=$1; shift
  "$B" "$@" >"$T/$name.out" 2>"$T/$name.err"; RC=$?
}

for tr in unix tcp; do
  if [ $tr = unix ]; then A=unix:$T/s.sock; else A=tcp:127.0.0.1:0; fi

  start_listener srv -role server -listen $A -scenario echo $TO
  run cli -role client -connect $LADDR -scenario echo-client $TO
  check "echo-client($tr) -> echo" 0 $RC "$T/cli.out" '^ok streams=100 bytes='
  listener_rc srv; check "echo($tr) end" 0 "$LRC" "$T/srv.out" 'done streams=100 .* errors=0'

  start_listener srv -role server -listen $A -scenario bench-echo $TO
  run cli -role client -connect $LADDR -scenario echo-client -streams 8 -window 16777216 $TO
  check "echo-client($tr, 16M window) -> bench-echo" 0 $RC "$T/cli.out" '^ok streams=8 '
  listener_rc srv; check "bench-echo($tr) end" 0 "$LRC" "$T/srv.out" 'done streams=8 '

  start_listener srv -role client -listen $A -scenario echo-client -streams 20 $TO
  run cli -role server -connect $LADDR -scenario echo $TO
  listener_rc srv; check "echo-client as yamux server($tr)" 0 "$LRC" "$T/srv.out" '^ok streams=20 '
  check "echo as yamux client($tr)" 0 $RC "$T/cli.out" 'done streams=20 '

  start_listener srv -role server -listen $A -scenario sink $TO
  run cli -role client -connect $LADDR -scenario source -streams 8 -bytes 67108864 $TO
  check "source($tr) -> sink" 0 $RC "$T/cli.out" '^ok streams=8 bytes=536870912'
  listener_rc srv; check "sink($tr) end" 0 "$LRC" "$T/srv.out" 'done streams=8 bytes=536870912'

  # benchmark scenarios (small counts; the defaults are exercised below on unix)
  start_listener srv -role server -listen $A -scenario echo $TO
  run cli -role client -connect $LADDR -scenario churn-client -ops 3000 $TO
  check1 "churn-client($tr) -> echo" 0 $RC "$T/cli.out" "$(churn_re 3000)"
  listener_rc srv; check "echo after churn($tr)" 0 "$LRC" "$T/srv.out" 'done streams=3000 bytes=3000 errors=0'

  start_listener srv -role server -listen $A -scenario bench-echo $TO
  run cli -role client -connect $LADDR -scenario churn-client -ops 3000 -parallel 16 $TO
  check1 "churn-client($tr) -parallel 16 -> bench-echo" 0 $RC "$T/cli.out" "$(churn_re 3000)"
  listener_rc srv; check "bench-echo after churn($tr)" 0 "$LRC" "$T/srv.out" 'done streams=3000 bytes=3000 errors=0'

  start_listener srv -role server -listen $A -scenario bench-echo $TO
  run cli -role client -connect $LADDR -scenario rtt-client -count 2000 $TO
  check1 "rtt-client($tr) -> bench-echo" 0 $RC "$T/cli.out" "$(rtt_re 2000)"
  listener_rc srv; check "bench-echo after rtt($tr)" 0 "$LRC" "$T/srv.out" 'done streams=1 bytes=140800 errors=0' # (200+2000)*64

  start_listener srv -role server -listen $A -scenario netrpc-server $TO
  run cli -role client -connect $LADDR -scenario netrpc-client -count 2000 -parallel 16 $TO
  check1 "netrpc-client($tr) -parallel 16 -> netrpc-server" 0 $RC "$T/cli.out" "$(netrpc_re 2000 16 64)"
  listener_rc srv; check "netrpc-server($tr) end" 0 "$LRC" "$T/srv.out" '^done streams=1 calls=2200$' # 200 warm-up

  start_listener srv -role server -listen $A -scenario idle-accept -streams 10000 $TO
  run cli -role client -connect $LADDR -scenario idle-streams -streams 10000 -hold 200ms $TO
  check1 "idle-streams($tr) 10000" 0 $RC "$T/cli.out" "$(idle_re 10000)"
  in_range "idle-streams($tr) heap/stream plausible" "$T/cli.out" heap_bytes_per_stream 200 4000
  listener_rc srv; check "idle-accept($tr) 10000" 0 "$LRC" "$T/srv.out" "$(idle_re 10000)"
  in_range "idle-accept($tr) heap/stream plausible" "$T/srv.out" heap_bytes_per_stream 200 4000
done

A=unix:$T/s.sock
start_listener srv -role server -listen $A -scenario echo $TO
run cli -role client -connect $LADDR -scenario ping -count 3 $TO
check "ping client -> echo" 0 $RC "$T/cli.out" '^rtt [0-9]'
[ "$(grep -c '^rtt ' "$T/cli.out")" = 3 ] || { failed=$((failed+1)); echo "FAIL ping count"; }
listener_rc srv; check "echo after ping" 0 "$LRC" "$T/srv.out" 'done streams=0'

start_listener srv -role server -listen $A -scenario ping -count 2 $TO
run cli -role client -connect $LADDR -scenario echo $TO
listener_rc srv; check "ping from yamux server" 0 "$LRC" "$T/srv.out" '^rtt [0-9]'
check "echo client after ping" 0 $RC "$T/cli.out" 'done streams=0'

start_listener srv -role server -listen $A -scenario goaway $TO
run cli -role client -connect $LADDR -scenario echo $TO
check "echo closes on GoAway(0)" 0 $RC "$T/cli.out" 'done streams=0'
listener_rc srv; check "goaway end" 0 "$LRC" "$T/srv.out" 'listening'

start_listener srv -role server -listen $A -scenario goaway $TO
run cli -role client -connect $LADDR -scenario echo-client -streams 2 $TO
check "echo-client vs goaway fails" 1 $RC "$T/cli.out" 'not accepting\|connection reset'
listener_rc srv; check "goaway end (client gave up)" 0 "$LRC" "$T/srv.out" 'listening'

start_listener srv -role server -listen $A -scenario reset $TO
run cli -role client -connect $LADDR -scenario echo-client -streams 1 $TO
check "reset (raw RST) seen by client" 1 $RC "$T/cli.out" 'connection reset'
listener_rc srv; check "reset end" 0 "$LRC" "$T/srv.out" '^reset stream=1'

start_listener srv -role server -listen $A -scenario reset -reset-mode close $TO
run cli -role client -connect $LADDR -scenario echo-client -streams 1 -min 100 -max 100 $TO
check "reset-mode close: client sees short echo" 1 $RC "$T/cli.out" 'mismatch'
listener_rc srv; check "reset-mode close end" 0 "$LRC" "$T/srv.out" '^reset stream=1'

start_listener srv -role server -listen $A -scenario echo -timeout 1s
python3 - "$T/s.sock" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(3)
EOF
listener_rc srv; check "timeout" 3 "$LRC" "$T/srv.out" '^timeout'

# A raw client that overruns the 256 KiB window: SYN, then one Data frame of 256 KiB + 1.
start_listener srv -role server -listen $A -scenario sink $TO
python3 - "$T/s.sock" <<'EOF'
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(struct.pack(">BBHII", 0, 1, 1, 1, 0))                   # WindowUpdate SYN id=1 delta=0
try:
    s.sendall(struct.pack(">BBHII", 0, 0, 0, 1, 262145) + b"x" * 262145)  # Data id=1, window + 1
except OSError:
    pass  # the peer may close before reading it all
time.sleep(0.5)
EOF
listener_rc srv; check "sink: window violation" 2 "$LRC" "$T/srv.out" 'session error: .*window exceeded'

# A raw client that sends GoAway(1) (protocol error) to an echo peer.
start_listener srv -role server -listen $A -scenario echo $TO
python3 - "$T/s.sock" <<'EOF'
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(struct.pack(">BBHII", 0, 3, 0, 0, 1)); time.sleep(0.5)
EOF
listener_rc srv; check "echo: GoAway(1) is a session error" 2 "$LRC" "$T/srv.out" 'session error: yamux protocol error'

# -fd: a socketpair whose ends are inherited by two children.
python3 - "$B" "$T" <<'EOF'
import socket, subprocess, sys
b, t = sys.argv[1], sys.argv[2]
a, c = socket.socketpair()
srv = subprocess.Popen([b, "-role", "server", "-fd", str(a.fileno()), "-scenario", "echo", "-timeout", "30s"],
                       pass_fds=[a.fileno()], stdout=open(t + "/fds.out", "w"), stderr=open(t + "/fds.err", "w"))
cli = subprocess.Popen([b, "-role", "client", "-fd", str(c.fileno()), "-scenario", "echo-client", "-streams", "10",
                        "-timeout", "30s"], pass_fds=[c.fileno()], stdout=open(t + "/fdc.out", "w"), stderr=open(t + "/fdc.err", "w"))
a.close(); c.close()
open(t + "/fd.rc", "w").write("%d %d\n" % (cli.wait(), srv.wait()))
EOF
read crc src < "$T/fd.rc"
check "-fd echo-client" 0 "$crc" "$T/fdc.out" '^ok streams=10 '
check "-fd echo" 0 "$src" "$T/fds.out" 'done streams=10 '

# benchmark scenarios: defaults, swapped roles, large sizes, holding, refusals (unix)
start_listener srv -role server -listen $A -scenario echo $TO
run cli -role client -connect $LADDR -scenario churn-client -parallel 16 $TO
check1 "churn-client defaults (-ops 20000) -parallel 16" 0 $RC "$T/cli.out" "$(churn_re 20000)"
listener_rc srv; check "echo after churn 20000" 0 "$LRC" "$T/srv.out" 'done streams=20000 bytes=20000 errors=0'

start_listener srv -role client -listen $A -scenario echo $TO
run cli -role server -connect $LADDR -scenario churn-client -ops 2000 -parallel 4 $TO
check1 "churn-client as yamux server" 0 $RC "$T/cli.out" "$(churn_re 2000)"
listener_rc srv; check "echo as yamux client after churn" 0 "$LRC" "$T/srv.out" 'done streams=2000 bytes=2000 errors=0'

start_listener srv -role server -listen $A -scenario bench-echo $TO
run cli -role client -connect $LADDR -scenario rtt-client $TO
check1 "rtt-client defaults (-count 20000 -size 64)" 0 $RC "$T/cli.out" "$(rtt_re 20000)"
listener_rc srv; check "bench-echo after rtt defaults" 0 "$LRC" "$T/srv.out" 'done streams=1 bytes=1344000 errors=0'

start_listener srv -role server -listen $A -scenario bench-echo $TO
run cli -role client -connect $LADDR -scenario rtt-client -count 50 -size 1048576 $TO
check1 "rtt-client -size 1 MiB" 0 $RC "$T/cli.out" "$(rtt_re 50)"
listener_rc srv; check "bench-echo after 1 MiB rtt" 0 "$LRC" "$T/srv.out" 'done streams=1 bytes=57671680 errors=0' # 55 MiB

# go-plugin's net/rpc transport: one stream, one rpc.Client, calls spread over -parallel callers
for par in 1 16; do
  for size in 64 65536; do
    start_listener srv -role server -listen $A -scenario netrpc-server $TO
    run cli -role client -connect $LADDR -scenario netrpc-client -count 2000 -parallel $par -size $size $TO
    check1 "netrpc-client -parallel $par -size $size" 0 $RC "$T/cli.out" "$(netrpc_re 2000 $par $size)"
    listener_rc srv; check "netrpc-server after -parallel $par -size $size" 0 "$LRC" "$T/srv.out" '^done streams=1 calls=2200$'
  done
done

start_listener srv -role server -listen $A -scenario netrpc-server $TO
run cli -role client -connect $LADDR -scenario netrpc-client -parallel 16 -count 2001 $TO # not a multiple of 16
check1 "netrpc-client -count 2001 -parallel 16" 0 $RC "$T/cli.out" "$(netrpc_re 2001 16 64)"
listener_rc srv; check "netrpc-server counts 2001 + 200 calls" 0 "$LRC" "$T/srv.out" '^done streams=1 calls=2201$'

start_listener srv -role server -listen $A -scenario netrpc-server $TO
run cli -role client -connect $LADDR -scenario netrpc-client -parallel 16 $TO
check1 "netrpc-client defaults (-count 20000 -size 64) -parallel 16" 0 $RC "$T/cli.out" "$(netrpc_re 20000 16 64)"
listener_rc srv; check "netrpc-server after defaults" 0 "$LRC" "$T/srv.out" '^done streams=1 calls=21000$'

# A byte-echo peer would answer every Echo call correctly (the echoed gob request decodes as
# a response); the client's unknown-method probe must catch it, well before -timeout.
start_listener srv -role server -listen $A -scenario echo $TO
run cli -role client -connect $LADDR -scenario netrpc-client -count 200 -timeout 10s
check "netrpc-client vs echo fails" 1 $RC "$T/cli.out" '^netrpc error: peer is not a net/rpc server'
listener_rc srv; check "echo after netrpc-client" 0 "$LRC" "$T/srv.out" 'done streams=1 '

start_listener srv -role client -listen $A -scenario idle-accept -streams 100000 $TO
run cli -role server -connect $LADDR -scenario idle-streams -streams 100000 -hold 200ms $TO
check1 "idle-streams 100000 as yamux server" 0 $RC "$T/cli.out" "$(idle_re 100000)"
in_range "idle-streams 100000 heap/stream plausible" "$T/cli.out" heap_bytes_per_stream 200 4000
listener_rc srv; check "idle-accept 100000 as yamux client" 0 "$LRC" "$T/srv.out" "$(idle_re 100000)"

start_listener srv -role server -listen $A -scenario idle-accept -streams 1000 -hold 200ms $TO
run cli -role client -connect $LADDR -scenario idle-streams -streams 1000 $TO
check1 "idle-streams holds until the peer closes" 0 $RC "$T/cli.out" "$(idle_re 1000)"
listener_rc srv; check "idle-accept -hold closes" 0 "$LRC" "$T/srv.out" "$(idle_re 1000)"

start_listener srv -role server -listen $A -scenario idle-accept -streams 1000 -timeout 1s
run cli -role client -connect $LADDR -scenario idle-streams -streams 1000 -timeout 5s
check1 "idle-streams: peer's -timeout while holding" 0 $RC "$T/cli.out" "$(idle_re 1000)"
listener_rc srv; check "idle-accept: -timeout while holding exits 0" 0 "$LRC" "$T/srv.out" "$(idle_re 1000)"
grep -q '^timeout' "$T/srv.out" && { failed=$((failed+1)); echo "FAIL holding timeout printed \"timeout\""; }

start_listener srv -role server -listen $A -scenario idle-accept -streams 2000 $TO
run cli -role client -connect $LADDR -scenario idle-streams -streams 1000 -hold 200ms $TO
check1 "idle-streams 1000 vs idle-accept 2000" 0 $RC "$T/cli.out" "$(idle_re 1000)"
listener_rc srv; check "idle-accept: session ended early" 1 "$LRC" "$T/srv.out" '^idle error: session ended after 1000 of 2000'

start_listener srv -role server -listen $A -scenario goaway $TO
run cli -role client -connect $LADDR -scenario idle-streams -streams 100 $TO
check "idle-streams vs goaway" 1 $RC "$T/cli.out" '^idle error: \(open\|peer reset\)' # SYNs sent before the GoAway arrived are RST
listener_rc srv; check "goaway end (idle-streams)" 0 "$LRC" "$T/srv.out" 'listening'

start_listener srv -role server -listen $A -scenario goaway $TO
run cli -role client -connect $LADDR -scenario churn-client -ops 100 $TO
check "churn-client vs goaway" 1 $RC "$T/cli.out" '^failed ops=100 of 100'
listener_rc srv; check "goaway end (churn)" 0 "$LRC" "$T/srv.out" 'listening'

run usage2 -role client -fd 3 -scenario churn-client -parallel 0
check "usage error (-parallel 0)" 4 $RC "$T/usage2.err" 'parallel'

run usage -role nobody -fd 3 -scenario echo
check "usage error" 4 $RC "$T/usage.err" 'role'

echo "$passed passed, $failed failed"
[ $failed = 0 ]
