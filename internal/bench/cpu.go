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

// ProcessesCPU is the clock of the processes pids on this machine, read from
// /proc/PID/stat (utime + stime, which count every thread of the process).
func ProcessesCPU(pids []int) CPUClock {
	return func() (time.Duration, error) {
		var total time.Duration
		for _, pid := range pids {
			t, err := processCPU(pid)
			if err != nil {
				return 0, err
			}
			total += t
		}
		return total, nil
	}
}

func processCPU(pid int) (time.Duration, error) {
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
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("cpu time of process %d: /proc/%d/stat has %d fields", pid, pid, len(fields)+2)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time of process %d: %q: %w", pid, f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// SelfCPU is the clock of this process, in microseconds (getrusage).
func SelfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("cpu time of this process: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
