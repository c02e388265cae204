// goplugin-launch: go-plugin's own launch, the baseline of Tether's `bench launch --peer go`.
//
// Build (GOPATH mode against Debian's golang-github-hashicorp-go-plugin-dev 1.0.1, no download):
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o /tmp/goplugin-launch .
//
// One binary is both sides, as a go-plugin host and its plugin usually are two builds of:
//
//	goplugin-launch -mode sequential -count N   the host: N plugins one after another. Each is
//	        plugin.NewClient + Client() (spawn → handshake → session), Dispense + one 64-byte Echo
//	        call (first call), Kill (graceful quit → reaped). One line per launch:
//	        "launch start_us=S call_us=C stop_us=K total_us=T plugin_rss_kb=R plugin_anon_kb=A",
//	        R and A = the plugin's VmRSS and RssAnon after its first call, read between the first
//	        call and Kill (T = S + C + K leaves the read out). Kill must end the plugin with status 0.
//	goplugin-launch -mode concurrent -count N   the host: N plugins started at once (one goroutine
//	        each), each called once, all killed. One line:
//	        "concurrent plugins=N started_ms=A called_ms=B stopped_ms=C host_heap_kb_per_plugin=H
//	        plugin_rss_kb=R", times from the first start (C leaves out the memory readings taken
//	        between the calls and the Kills); H = (host MemStats.HeapInuse with all N
//	        running after their calls - before) / N in KiB, each after runtime.GC +
//	        debug.FreeOSMemory; R = median plugin VmRSS.
//	(run by the host, with the magic cookie set)  the plugin: plugin.Serve with net/rpc, one
//	        plugin "echo" whose Echo(args []byte) returns args.
//
// The host's logger is hclog's null logger (no log formatting on either path); net/rpc only
// (AllowedProtocols), no AutoMTLS: go-plugin's plainest, fastest launch.
// Exit codes: 0 ok; 1 a launch, call or comparison failed (message on stderr); 2 usage.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/rpc"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
)

var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "GOPLUGIN_LAUNCH_BENCH",
	MagicCookieValue: "5f1d8e2c9a7b3064",
}

// Echo is the plugin's interface.
type Echo interface {
	Echo(args []byte) ([]byte, error)
}

type echoImpl struct{}

func (echoImpl) Echo(args []byte) ([]byte, error) { return args, nil }

// echoRPCServer is the plugin-side net/rpc receiver.
type echoRPCServer struct{ impl Echo }

func (s *echoRPCServer) Echo(args []byte, reply *[]byte) error {
	r, err := s.impl.Echo(args)
	*reply = r
	return err
}

// echoRPC is the host-side stub.
type echoRPC struct{ client *rpc.Client }

func (e *echoRPC) Echo(args []byte) ([]byte, error) {
	var reply []byte
	err := e.client.Call("Plugin.Echo", args, &reply)
	return reply, err
}

type echoPlugin struct{}

func (echoPlugin) Server(*plugin.MuxBroker) (interface{}, error) {
	return &echoRPCServer{impl: echoImpl{}}, nil
}

func (echoPlugin) Client(_ *plugin.MuxBroker, c *rpc.Client) (interface{}, error) {
	return &echoRPC{client: c}, nil
}

var plugins = map[string]plugin.Plugin{"echo": echoPlugin{}}

func main() {
	if os.Getenv(handshake.MagicCookieKey) == handshake.MagicCookieValue {
		plugin.Serve(&plugin.ServeConfig{HandshakeConfig: handshake, Plugins: plugins})
		return
	}
	mode := flag.String("mode", "", "sequential | concurrent")
	count := flag.Int("count", 50, "plugins")
	flag.Parse()
	self, err := os.Executable()
	if err != nil {
		fail("executable: %v", err)
	}
	switch *mode {
	case "sequential":
		for i := 0; i < *count; i++ {
			sequential(self)
		}
	case "concurrent":
		concurrent(self, *count)
	default:
		fmt.Fprintln(os.Stderr, "usage: goplugin-launch -mode sequential|concurrent -count N")
		os.Exit(2)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "goplugin-launch: "+format+"\n", args...)
	// Kill every plugin started so far: go-plugin's plugins do not die with their host.
	plugin.CleanupClients()
	os.Exit(1)
}

// launched is one plugin: go-plugin's client and the command it runs.
type launched struct {
	client *plugin.Client
	cmd    *exec.Cmd
}

func newClient(self string) launched {
	cmd := exec.Command(self)
	return launched{client: plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          plugins,
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolNetRPC},
		Logger:           hclog.NewNullLogger(),
		StartTimeout:     30 * time.Second,
		// So that plugin.CleanupClients() in fail() kills it.
		Managed: true,
	}), cmd: cmd}
}

// stop is Kill (a graceful quit, SIGKILL after 2 s), then a check that the plugin exited by
// itself with status 0, as Tether's side checks.
func (l launched) stop() {
	l.client.Kill()
	if l.cmd.ProcessState == nil || !l.cmd.ProcessState.Success() {
		fail("plugin did not exit cleanly: %v", l.cmd.ProcessState)
	}
}

var payload = bytes.Repeat([]byte{7}, 64)

// call dispenses "echo" and makes one call, comparing the reply.
func call(client launched) {
	protocol, err := client.client.Client()
	if err != nil {
		fail("client: %v", err)
	}
	raw, err := protocol.Dispense("echo")
	if err != nil {
		fail("dispense: %v", err)
	}
	reply, err := raw.(Echo).Echo(payload)
	if err != nil || !bytes.Equal(reply, payload) {
		fail("echo: %v (reply %d bytes)", err, len(reply))
	}
}

func sequential(self string) {
	start := time.Now()
	client := newClient(self)
	if _, err := client.client.Client(); err != nil {
		fail("start: %v", err)
	}
	started := time.Now()
	call(client)
	called := time.Now()
	// Read between the timed phases: neither counts it.
	pid := client.client.ReattachConfig().Pid
	rss, anon := rssKB(pid), anonKB(pid)
	stopping := time.Now()
	client.stop()
	stopped := time.Now()
	shutdown := stopped.Sub(stopping)
	fmt.Printf("launch start_us=%d call_us=%d stop_us=%d total_us=%d plugin_rss_kb=%d plugin_anon_kb=%d\n",
		started.Sub(start).Microseconds(), called.Sub(started).Microseconds(),
		shutdown.Microseconds(), (called.Sub(start) + shutdown).Microseconds(), rss, anon)
}

func concurrent(self string, n int) {
	before := settledHeap()
	clients := make([]launched, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			clients[i] = newClient(self)
			if _, err := clients[i].client.Client(); err != nil {
				fail("start %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	started := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func(c launched) { defer wg.Done(); call(c) }(c)
	}
	wg.Wait()
	called := time.Now()
	// Measured between the timed phases; "stopped" leaves this time out.
	running := settledHeap()
	pluginRSS := make([]int, 0, n)
	for _, c := range clients {
		pluginRSS = append(pluginRSS, rssKB(c.client.ReattachConfig().Pid))
	}
	sort.Ints(pluginRSS)
	stopping := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func(c launched) { defer wg.Done(); c.stop() }(c)
	}
	wg.Wait()
	stopped := called.Add(time.Since(stopping))
	fmt.Printf("concurrent plugins=%d started_ms=%.1f called_ms=%.1f stopped_ms=%.1f host_heap_kb_per_plugin=%.1f plugin_rss_kb=%d\n",
		n, ms(started.Sub(start)), ms(called.Sub(start)), ms(stopped.Sub(start)),
		float64(running-before)/1024/float64(n), pluginRSS[n/2])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// settledHeap is this process's heap in use (bytes, MemStats.HeapInuse) after a collection.
func settledHeap() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return int64(stats.HeapInuse)
}

// rssKB is VmRSS of pid in KiB from /proc/PID/status (0 if it cannot be read).
func rssKB(pid int) int { return statusKB(pid, "VmRSS:") }

// anonKB is RssAnon of pid in KiB: its resident memory that is not a file's pages (heap, stacks).
func anonKB(pid int) int { return statusKB(pid, "RssAnon:") }

// statusKB is the KiB figure of the line starting with key in /proc/PID/status (0 if none).
func statusKB(pid int, key string) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, key) {
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				v, _ := strconv.Atoi(fields[1])
				return v
			}
		}
	}
	return 0
}
