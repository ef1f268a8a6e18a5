// tramp: run with tests/go/tramp_preload.so preloaded (GOTRAMP_TEST=1),
// which hooks this program's Syscall6 and rawVforkSyscall with the
// trampolines and a test handler (Go < 1.19: the runs of the ABI0
// syscall.Syscall family instead of Syscall6).  Checks what comes back
// through syscall.Syscall6/Syscall/RawSyscall/RawSyscall6 (results, errno,
// the handler on another stack), under load from goroutines, GC,
// preemption and os/exec children.  Prints "ok" and exits 0, or the first mismatch and exits 1.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	// Dynamic and with Go's threads on libc's TLS, as every program the
	// layer can enter (a PIE without cgo is dynamic but sets FS itself).
	_ "runtime/cgo"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

var failed int32

func check(what string, got, want uintptr) {
	if got != want {
		if atomic.AddInt32(&failed, 1) < 10 {
			fmt.Printf("FAIL %s: got %#x want %#x\n", what, got, want)
		}
	}
}

func weighted(a [6]uintptr) uintptr {
	return a[0] + 2*a[1] + 3*a[2] + 4*a[3] + 5*a[4] + 6*a[5]
}

func one(g, i int) {
	var local [64]byte // a6: an address on this goroutine's stack
	a := [6]uintptr{uintptr(g), uintptr(i), 0x1111, 0x7fff0000ffff, ^uintptr(0) >> 8,
		uintptr(unsafe.Pointer(&local[0]))}
	r1, r2, e := syscall.Syscall6(500, a[0], a[1], a[2], a[3], a[4], a[5])
	check("Syscall6(500) r1", r1, weighted(a))
	check("Syscall6(500) r2", r2, 0)
	check("Syscall6(500) errno", uintptr(e), 0)
	// Syscall (three arguments): a4..a6 arrive as 0.
	r1, _, e = syscall.Syscall(500, a[0], a[1], a[2])
	check("Syscall(500) r1", r1, a[0]+2*a[1]+3*a[2]+6*0)
	if e != 0 && e != syscall.EFAULT {
		check("Syscall(500) errno", uintptr(e), 0)
	}
	// RawSyscall6: no entersyscall (Go < 1.19 patches it separately).
	r1, r2, e = syscall.RawSyscall6(500, a[0], a[1], a[2], a[3], a[4], a[5])
	check("RawSyscall6(500) r1", r1, weighted(a))
	check("RawSyscall6(500) r2", r2, 0)
	check("RawSyscall6(500) errno", uintptr(e), 0)
	r1, r2, e = syscall.RawSyscall(501, 1, 2, 3)
	check("RawSyscall(501) r1", r1, ^uintptr(0))
	check("RawSyscall(501) r2", r2, 0)
	check("RawSyscall(501) errno", uintptr(e), uintptr(syscall.EDOM))
	if i%16 == 0 {
		r1, _, e = syscall.Syscall(502, 200000, 0, 0) // 200 µs in the handler
		check("Syscall(502) r1", r1, 7)
		check("Syscall(502) errno", uintptr(e), 0)
	}
	// A system call the handler does not want: the kernel's, unchanged.
	r1, _, e = syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	check("getpid", r1, uintptr(os.Getpid()))
	_, _, e = syscall.Syscall(syscall.SYS_CLOSE, 1<<20, 0, 0)
	check("close(bad fd) errno", uintptr(e), uintptr(syscall.EBADF))
}

func main() {
	if os.Getenv("GOTRAMP_TEST") == "" {
		fmt.Println("run with GOTRAMP_TEST=1 and tramp_preload.so preloaded")
		os.Exit(2)
	}
	_, _, e := syscall.Syscall(504, 0, 0, 0)
	n0, _, _ := syscall.Syscall(504, 0, 0, 0)
	if e != 0 || n0 == 0 {
		fmt.Println("FAIL: the handler is not installed")
		os.Exit(1)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() { // GC and stack shrinking while handlers run
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				one(g, i)
			}
		}(g)
	}
	for c := 0; c < 4; c++ { // children: vfork, dup3/close/fcntl in the child
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				out, err := exec.Command("/bin/echo", "child").Output()
				if err != nil || string(out) != "child\n" {
					atomic.AddInt32(&failed, 1)
					fmt.Printf("FAIL exec: %q %v\n", out, err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	inChild, _, _ := syscall.Syscall(503, 0, 0, 0)
	check("handler calls in a child", inChild, 0)
	n1, _, _ := syscall.Syscall(504, 0, 0, 0)
	if n1-n0 < 16*400*4 {
		check("handler calls", n1-n0, 16*400*4)
	}
	if failed != 0 {
		os.Exit(1)
	}
	fmt.Println("ok")
}
