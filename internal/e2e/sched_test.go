package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Linux scheduling policies (sched(7)).
const (
	schedOther = 0
	schedBatch = 3
)

func TestWorkerThreadsRunUnderBatchScheduling(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, schedBatch},
		{[]string{"--batch-scheduling=false"}, schedOther},
	} {
		addr := freeAddr(t)
		w := start(t, dir, append([]string{"worker", "--listen", addr, "--admin", "off"}, tc.args...)...)
		waitListening(t, w, addr)
		policies := threadPolicies(t, w.cmd.Process.Pid)
		for tid, p := range policies {
			if p != tc.want {
				t.Errorf("worker %v: thread %d has policy %d, want %d", tc.args, tid, p, tc.want)
			}
		}
		if len(policies) < 2 {
			t.Errorf("worker %v: %d threads read", tc.args, len(policies))
		}
	}
}

// threadPolicies reads the scheduling policy of each thread of pid (field 41 of
// /proc/PID/task/TID/stat).
func threadPolicies(t *testing.T, pid int) map[int]int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/stat")
	if err != nil {
		t.Fatal(err)
	}
	policies := map[int]int{}
	for _, path := range tasks {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue // the thread ended
		}
		// The command name, field 2, is in parentheses and may hold spaces.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		tid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		policy, err := strconv.Atoi(fields[41-3])
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		policies[tid] = policy
	}
	return policies
}
