// A small program that links what the Go inspector looks for: os (the
// syscall package and Syscall6), net (cgo: dynamically linked) and
// os/exec (syscall.rawVforkSyscall).  tests/trampolines/test_goinfo.c
// reads the builds that goprog/build.sh makes of it.
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
)

func main() {
	b, err := os.ReadFile("/etc/hostname")
	fmt.Println(len(b), err)
	addrs, err := net.LookupHost("localhost")
	fmt.Println(addrs, err)
	out, err := exec.Command("true").Output()
	fmt.Println(len(out), err)
}
