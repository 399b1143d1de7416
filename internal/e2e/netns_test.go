//go:build linux

package e2e

// A cluster on several hosts: network namespaces joined by a bridge, each with
// its own address. Everything lives in namespaces this test creates (named
// fconv<pid>-*) and the 10.213.0.0/24 addresses exist only inside them: the host's
// interfaces and routes are never touched. Needs root and iproute2's ip.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	labSubnet   = "10.213.0."
	labWorkers  = "workers.fileconv.test" // the name worker 3, then also worker 4, is found under
	labPort     = "6000"
	netnsDir    = "/var/run/netns" // where ip netns keeps its namespaces
	netnsEtcDir = "/etc/netns"     // ip netns exec NS binds /etc/netns/NS/* over /etc/*
)

// netLab is a set of network namespaces ("hosts") on one bridge.
type netLab struct {
	t        *testing.T
	prefix   string
	bridge   string   // the namespace holding the bridge br0
	spaces   []string // created, to delete
	etcDirs  []string // /etc/netns/NS created, to delete
	madeEtcN bool     // /etc/netns itself was created
}

func ipCommand(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newNetLab creates the bridge, or skips the test saying why it cannot.
func newNetLab(t *testing.T) *netLab {
	t.Helper()
	const instead = "; TestClusterLoopback runs the same scenarios on loopback processes"
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root (CI runs the tests as root)" + instead)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command: install the Debian package iproute2 (make test does)" + instead)
	}
	if _, ok := setnsTrap[runtime.GOARCH]; !ok {
		t.Skipf("the setns system call number on %s is not known to this test%s", runtime.GOARCH, instead)
	}
	l := &netLab{t: t, prefix: fmt.Sprintf("fconv%d", os.Getpid())}
	t.Cleanup(l.teardown)
	l.bridge = l.prefix + "-br"
	if err := l.addNamespace(l.bridge); err != nil {
		t.Skipf("cannot create a network namespace (%v)%s", err, instead)
	}
	for _, args := range [][]string{
		{"-n", l.bridge, "link", "add", "br0", "type", "bridge"},
		{"-n", l.bridge, "link", "set", "br0", "up"},
		{"netns", "exec", l.bridge, "true"},
	} {
		if err := ipCommand(args...); err != nil {
			t.Skipf("cannot set up a bridge between network namespaces (%v)%s", err, instead)
		}
	}
	if err := runInNetns(l.bridge, func() {}); err != nil {
		t.Skipf("cannot enter a network namespace (%v)%s", err, instead)
	}
	return l
}

func (l *netLab) addNamespace(ns string) error {
	if err := ipCommand("netns", "add", ns); err != nil {
		return err
	}
	l.spaces = append(l.spaces, ns)
	return ipCommand("-n", ns, "link", "set", "lo", "up")
}

// addHost creates namespace prefix-name with interface eth0 holding ip/24,
// plugged into the bridge, and returns the namespace's name.
func (l *netLab) addHost(name, ip string) string {
	l.t.Helper()
	ns := l.prefix + "-" + name
	if err := l.addNamespace(ns); err != nil {
		l.t.Fatal(err)
	}
	port := "v-" + name
	for _, args := range [][]string{
		{"-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", l.bridge},
		{"-n", l.bridge, "link", "set", port, "master", "br0", "up"},
		{"-n", ns, "addr", "add", ip + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
	} {
		if err := ipCommand(args...); err != nil {
			l.t.Fatal(err)
		}
	}
	return ns
}

// setLink brings a host's eth0 up or down: down, the host is cut off, its
// processes still running.
func (l *netLab) setLink(ns string, up bool) {
	l.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if err := ipCommand("-n", ns, "link", "set", "eth0", state); err != nil {
		l.t.Fatal(err)
	}
}

// writeHosts writes the /etc/hosts that processes started in ns by ip netns exec
// see, or skips the test if /etc/netns cannot be written.
func (l *netLab) writeHosts(ns, text string) {
	l.t.Helper()
	if _, err := os.Stat(netnsEtcDir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(netnsEtcDir, 0o755); err != nil {
			l.t.Skipf("cannot give a namespace its own hosts file (%v); TestClusterLoopback runs the same scenarios on loopback processes", err)
		}
		l.madeEtcN = true
	}
	dir := filepath.Join(netnsEtcDir, ns)
	if err := os.Mkdir(dir, 0o755); err != nil {
		l.t.Skipf("cannot give a namespace its own hosts file (%v); TestClusterLoopback runs the same scenarios on loopback processes", err)
	}
	l.etcDirs = append(l.etcDirs, dir)
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(text), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// appendHosts adds lines to ns's hosts file in place: the file is bind-mounted
// into running processes, so it must stay the same file.
func (l *netLab) appendHosts(ns, text string) {
	l.t.Helper()
	f, err := os.OpenFile(filepath.Join(netnsEtcDir, ns, "hosts"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		l.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		l.t.Fatal(err)
	}
}

func (l *netLab) teardown() {
	for i := len(l.spaces) - 1; i >= 0; i-- {
		if err := ipCommand("netns", "del", l.spaces[i]); err != nil {
			l.t.Errorf("cleanup: %v", err)
		}
	}
	for _, dir := range l.etcDirs {
		if err := os.RemoveAll(dir); err != nil {
			l.t.Errorf("cleanup: %v", err)
		}
	}
	if l.madeEtcN {
		os.Remove(netnsEtcDir) // only if empty: another user may have put something there since
	}
}

// start runs fileconv in ns.
func (l *netLab) start(dir, ns, label string, args ...string) *process {
	l.t.Helper()
	return startFileconv(l.t, dir, label, []string{"ip", "netns", "exec", ns}, args...)
}

// setnsTrap is the setns(2) system call number, which package syscall lacks.
var setnsTrap = map[string]uintptr{
	"386": 346, "amd64": 308, "arm": 375, "arm64": 268, "loong64": 268,
	"ppc64": 350, "ppc64le": 350, "riscv64": 268, "s390x": 339,
}

// runInNetns runs f to its end on an OS thread moved into network namespace ns:
// the sockets f creates belong to ns, and keep working from any thread. The
// thread is never unlocked, so it ends with f's goroutine and nothing else ever
// runs in ns. f must not call t.Fatal.
func runInNetns(ns string, f func()) error {
	fd, err := os.Open(filepath.Join(netnsDir, ns))
	if err != nil {
		return err
	}
	defer fd.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var err error
		defer func() { errc <- err }()
		if _, _, e := syscall.RawSyscall(setnsTrap[runtime.GOARCH], fd.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
			err = fmt.Errorf("setns %s: %w", ns, e)
			return
		}
		f()
	}()
	return <-errc
}

// TestClusterNetns runs the cluster scenarios on five hosts: a master at
// 10.213.0.10 and workers at .11, .12 and .13, the last found by the name
// workers.fileconv.test, under which a fourth worker at .14 appears later. The
// test's clients run in the master's namespace. Worker 2 is killed and
// restarted; worker 3's link goes down (its process keeps running: connections
// hang until deadlines fire) and up again.
func TestClusterNetns(t *testing.T) {
	lab := newNetLab(t)
	dir := t.TempDir()
	ip := func(i int) string { return fmt.Sprintf("%s%d", labSubnet, 10+i) }
	clusterFiles(t, dir, labWorkers, ip(0), ip(1), ip(2), ip(3), ip(4))

	masterNS := lab.addHost("m", ip(0))
	lab.writeHosts(masterNS, fmt.Sprintf("127.0.0.1 localhost\n%s %s\n", ip(3), labWorkers))
	var spaces [3]string
	var workers [3]string
	var procs [3]*process
	for i := range workers {
		spaces[i] = lab.addHost(fmt.Sprintf("w%d", i+1), ip(i+1))
		workers[i] = ip(i+1) + ":" + labPort
		procs[i] = lab.start(dir, spaces[i], fmt.Sprintf("worker %d", i+1), clusterWorkerArgs(workers[i])...)
	}
	space4 := lab.addHost("w4", ip(4))

	masterAddr, adminAddr := ip(0)+":5000", ip(0)+":9090"
	list := strings.Join([]string{workers[0], workers[1], labWorkers + ":" + labPort}, ",")
	m := lab.start(dir, masterNS, "master", clusterMasterArgs(masterAddr, adminAddr, list)...)
	c := newCluster(t, dir, m, masterAddr, adminAddr, func(f func()) error { return runInNetns(masterNS, f) })
	c.waitDial(masterAddr, m)
	c.waitDial(adminAddr, m)
	for i := range workers {
		c.waitDial(workers[i], procs[i])
	}
	c.logf("namespaces %s-*: master %s, workers %s", lab.prefix, masterAddr, strings.Join(workers[:], " "))

	runClusterScenarios(t, c, dir, clusterOps{
		workers: workers,
		kill:    func(i int) { procs[i].killNow(t) },
		restart: func(i int) {
			procs[i] = lab.start(dir, spaces[i], fmt.Sprintf("worker %d (restarted)", i+1), clusterWorkerArgs(workers[i])...)
			c.waitDial(workers[i], procs[i])
		},
		cutWhat: "link down in its namespace",
		cut:     func(i int) { lab.setLink(spaces[i], false) },
		restore: func(i int) { lab.setLink(spaces[i], true) },
		addName: labWorkers,
		add: func() []string {
			addr := ip(4) + ":" + labPort
			p := lab.start(dir, space4, "worker 4", clusterWorkerArgs(addr)...)
			c.waitDial(addr, p)
			start := time.Now()
			lab.appendHosts(masterNS, fmt.Sprintf("%s %s\n", ip(4), labWorkers))
			c.logf("added %s to %s in the master's hosts file (%s)", ip(4), labWorkers, time.Since(start).Round(time.Millisecond))
			return []string{addr}
		},
	})
}
