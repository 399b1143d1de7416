package convert

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// Linux scheduling policies (sched(7)).
const (
	schedOther = 0
	schedBatch = 3
)

// ScheduleAsBatch puts the threads of this process under Linux's SCHED_BATCH
// policy, and with them every thread they start later: libvips' and the Go
// runtime's, and the PDF reader processes. A batch thread keeps its nice value
// and its share of the CPU, but its wake-ups do not preempt the thread that is
// running. A conversion hands its rows between two or three threads hundreds
// of times per file; under the default policy each hand-over preempted the
// other conversion, or the network threads preempted it, and on a loaded
// 2-core machine a worker spent about 10 % more CPU per PNG→JPG and converted
// 7–13 % fewer files per second (docs/performance.md).
//
// Threads under a policy other than the default one (an administrator's
// SCHED_IDLE, say) keep it. Changing to SCHED_BATCH needs no privilege.
func ScheduleAsBatch() error {
	// The runtime may start a thread while the list is walked, from a thread
	// not yet changed; another pass catches it.
	for range 5 {
		tids, err := threadIDs()
		if err != nil {
			return err
		}
		changed := 0
		for _, tid := range tids {
			policy, err := schedPolicy(tid)
			if errors.Is(err, syscall.ESRCH) {
				continue // the thread ended
			}
			if err != nil {
				return fmt.Errorf("scheduling policy of thread %d: %w", tid, err)
			}
			if policy != schedOther {
				continue
			}
			if err := setSchedPolicy(tid, schedBatch); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("set SCHED_BATCH on thread %d: %w", tid, err)
			}
			changed++
		}
		if changed == 0 {
			return nil
		}
	}
	return nil
}

func threadIDs() ([]int, error) {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("list this process's threads: %w", err)
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

func schedPolicy(tid int) (int, error) {
	r, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// setSchedPolicy uses sched_setscheduler, which unlike sched_setattr leaves the
// thread's nice value as it is.
func setSchedPolicy(tid, policy int) error {
	var param struct{ priority int32 } // SCHED_OTHER and SCHED_BATCH take priority 0
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), uintptr(policy), uintptr(unsafe.Pointer(&param)))
	if errno != 0 {
		return errno
	}
	return nil
}
