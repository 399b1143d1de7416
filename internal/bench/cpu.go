package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A CPUClock reports the CPU time (user + system) some processes have used so
// far. At saturation throughput is cores divided by CPU per request, so CPU per
// request compares the network path with the in-process conversion even when
// the load generator shares the cores with the servers it measures.
type CPUClock func() (time.Duration, error)

// userHZ is the unit of the times in /proc/PID/stat: fixed at 100 by the Linux
// ABI whatever the kernel's own tick rate.
const userHZ = 100

// ProcessesCPU is the clock of the processes pids on this machine and of their
// children (a worker reads PDFs in child processes), read from /proc/PID/stat:
// utime + stime count every thread of a process, cutime + cstime its children
// that have ended, and the children still running are read on their own.
func ProcessesCPU(pids []int) CPUClock {
	return func() (time.Duration, error) {
		var total time.Duration
		for _, pid := range pids {
			t, err := processCPU(pid, true)
			if err != nil {
				return 0, err
			}
			total += t + runningChildrenCPU(pid)
		}
		return total, nil
	}
}

// runningChildrenCPU is the CPU time of the children of pid still running,
// which their parent's own counters leave out until it has waited for them.
func runningChildrenCPU(pid int) time.Duration {
	var total time.Duration
	for _, child := range children(pid) {
		// A child may end between the listing and the read.
		if t, err := processCPU(child, false); err == nil {
			total += t
		}
	}
	return total
}

// children lists the running children of pid, from every thread's list.
func children(pid int) []int {
	var out []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func processCPU(pid int, withEnded bool) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time of process %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces; the
	// fields counted below start after its closing parenthesis.
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, fmt.Errorf("cpu time of process %d: /proc/%d/stat has no command name", pid, pid)
	}
	fields := strings.Fields(s[end+1:])
	// fields[0] is field 3 (state); utime, stime, cutime and cstime are
	// fields 14 to 17.
	if len(fields) < 15 {
		return 0, fmt.Errorf("cpu time of process %d: /proc/%d/stat has %d fields", pid, pid, len(fields)+2)
	}
	counted := fields[11:13]
	if withEnded {
		counted = fields[11:15]
	}
	var ticks int64
	for _, f := range counted {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time of process %d: %q: %w", pid, f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// SelfCPU is the clock of this process (getrusage, in microseconds, where /proc
// counts hundredths of a second) and of its children.
func SelfCPU() (time.Duration, error) {
	var self, ended syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		return 0, fmt.Errorf("cpu time of this process: %w", err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ended); err != nil {
		return 0, fmt.Errorf("cpu time of this process's children: %w", err)
	}
	total := time.Duration(self.Utime.Nano() + self.Stime.Nano() + ended.Utime.Nano() + ended.Stime.Nano())
	return total + runningChildrenCPU(os.Getpid()), nil
}
