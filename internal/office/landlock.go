package office

import (
	"errors"
	"fmt"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Landlock is the second wall for local files, as the network namespace is
// for the network: before LibreOffice starts, the child's main thread (which
// makes every LibreOffice call, and from which every LibreOffice thread and
// subprocess descends) gives up every file access but
//   - its private folder (everything; and removing it when it is empty),
//   - reading and running /usr, /lib*, /bin, /sbin, /opt and the install
//     folder, reading /proc and /sys, the font caches, and the few files of
//     /etc LibreOffice and the C library read,
//   - /dev's devices (/dev/null, /dev/urandom).
// So a document that makes LibreOffice open a local file (a linked image, a
// linked section, a style sheet) cannot read the worker's keys, its
// configuration, other users' files or /tmp, even if a setting were missed.
// Kernels without Landlock (before 5.13, or with it off) run without it, and
// the pool logs that; Stats.FilesLimited says which.

// landlockRead are the folders and files the child may read.
var landlockRead = []string{
	"/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/opt",
	"/proc", "/sys", "/var/cache/fontconfig",
	// /etc: fonts, the loader, users and groups, time zone, locale, paper.
	"/etc/fonts", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/localtime",
	"/etc/timezone", "/etc/papersize", "/etc/libreoffice", "/etc/locale.alias",
	"/etc/locale.conf", "/etc/default/locale", "/etc/mime.types", "/etc/os-release",
	"/etc/host.conf", "/etc/hosts", "/etc/resolv.conf", "/etc/gai.conf",
}

// restrictFiles applies the rules to the calling thread (and what it starts
// afterwards). It returns the Landlock ABI version applied.
func restrictFiles(folder, install string) (int, error) {
	abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0, fmt.Errorf("no Landlock in this kernel: %w", errno)
	}
	handled := uint64(1<<13 - 1) // ABI 1: EXECUTE .. MAKE_SYM
	if abi >= 2 {
		handled |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		handled |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		handled |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	attr := struct{ fs, net uint64 }{fs: handled}
	size := unsafe.Sizeof(attr)
	if abi < 4 {
		size = 8 // handled_access_net came with ABI 4
	}
	rs, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return 0, fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	defer unix.Close(int(rs))

	const read = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	dev := uint64(read | unix.LANDLOCK_ACCESS_FS_WRITE_FILE)
	if abi >= 5 {
		dev |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	// The folder may be removed by its process (REMOVE_DIR on its parent
	// lets it remove empty folders there, nothing else).
	rules := map[string]uint64{folder: handled, "/dev": dev, filepath.Dir(folder): unix.LANDLOCK_ACCESS_FS_REMOVE_DIR}
	if real, err := filepath.EvalSymlinks(install); err == nil {
		rules[filepath.Dir(real)] = read // the install's whole tree (program, share)
	}
	for _, p := range landlockRead {
		if _, ok := rules[p]; !ok {
			rules[p] = read
		}
	}
	for path, access := range rules {
		fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return 0, fmt.Errorf("open %s: %w", path, err)
		}
		var fi unix.Stat_t
		if unix.Fstat(fd, &fi) == nil && fi.Mode&unix.S_IFMT != unix.S_IFDIR {
			// A file takes only file rights.
			access &= unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
				unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
		}
		rule := unix.LandlockPathBeneathAttr{Allowed_access: access & handled, Parent_fd: int32(fd)}
		_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, rs, unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0)
		unix.Close(fd)
		if errno != 0 {
			return 0, fmt.Errorf("landlock_add_rule %s: %w", path, errno)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("no_new_privs: %w", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, rs, 0, 0); errno != 0 {
		return 0, fmt.Errorf("landlock_restrict_self: %w", errno)
	}
	return int(abi), nil
}
