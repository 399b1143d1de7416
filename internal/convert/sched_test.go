package convert

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

const schedIdle = 5

func TestScheduleAsBatch(t *testing.T) {
	// A thread an administrator put under another policy keeps it.
	idleTID := make(chan int)
	release := make(chan struct{})
	var idle sync.WaitGroup
	idle.Go(func() {
		// Locked so that no other goroutine runs under SCHED_IDLE, and put
		// back before it is unlocked: a locked goroutine that exits ends its
		// thread, but not when that is the main thread, which would then stay
		// under SCHED_IDLE for the next test.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := setSchedPolicy(syscall.Gettid(), schedIdle); err != nil {
			t.Errorf("set SCHED_IDLE: %v", err)
		}
		idleTID <- syscall.Gettid()
		<-release
		if err := setSchedPolicy(syscall.Gettid(), schedOther); err != nil {
			t.Errorf("put the SCHED_IDLE thread back: %v", err)
		}
	})
	tid := <-idleTID
	defer func() { close(release); idle.Wait() }()

	if err := ScheduleAsBatch(); err != nil {
		t.Fatal(err)
	}
	if p, err := schedPolicy(tid); err != nil || p != schedIdle {
		t.Errorf("the SCHED_IDLE thread has policy %d (err %v) after ScheduleAsBatch", p, err)
	}

	// Threads started afterwards, libvips' among them, and child processes
	// inherit the policy.
	png, err := testfiles.Encode(testfiles.Photo(400, 300), testfiles.PNG)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { convertOK(t, converter(t), wire.OpToJPEG, png) })
	}
	wg.Wait()
	tids, err := threadIDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range tids {
		p, err := schedPolicy(id)
		if err != nil || id == tid {
			continue
		}
		if p != schedBatch {
			t.Errorf("thread %d has policy %d, want SCHED_BATCH (%d)", id, p, schedBatch)
		}
	}
	child := exec.Command("sleep", "10")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	if p, err := schedPolicy(child.Process.Pid); err != nil || p != schedBatch {
		t.Errorf("a child process has policy %d (err %v), want SCHED_BATCH", p, err)
	}
}
