package office

import (
	"fmt"
	"os"
	"syscall"
)

// isolatedAttr starts a child in its own process group and network
// namespace; a worker that is not root gets a user namespace too, in which it
// keeps its own user and group ids.
func isolatedAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Cloneflags: syscall.CLONE_NEWNET}
	if os.Geteuid() != 0 {
		a.Cloneflags |= syscall.CLONE_NEWUSER
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Geteuid(), HostID: os.Geteuid(), Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getegid(), HostID: os.Getegid(), Size: 1}}
		a.GidMappingsEnableSetgroups = false
	}
	return a
}

// Magic numbers of memory-backed file systems (statfs(2)).
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// checkMemoryFS refuses a work folder whose files would reach a disk.
func checkMemoryFS(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("the office work folder %s: %w", dir, err)
	}
	if st.Type != tmpfsMagic && st.Type != ramfsMagic {
		return fmt.Errorf("the office work folder %s is not on a memory-backed file system (tmpfs): documents would reach a disk", dir)
	}
	return nil
}
