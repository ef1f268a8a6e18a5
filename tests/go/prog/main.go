// gotest: prints what a Go program observes through os, net, net/http and
// os/exec, one subcommand per check, so that a run inside the target and a
// run under the layer can be compared line for line (tests/go/go_test.sh).
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func die(format string, a ...interface{}) {
	fmt.Printf("error: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		die("usage: gotest CMD ARGS...")
	}
	a := os.Args[2:]
	switch os.Args[1] {
	case "read": // os.ReadFile
		b, err := os.ReadFile(a[0])
		if err != nil {
			die("%v", err)
		}
		fmt.Printf("%d bytes\n%s", len(b), b)
	case "readdir": // os.ReadDir, then Info() of each entry
		ents, err := os.ReadDir(a[0])
		if err != nil {
			die("%v", err)
		}
		for _, e := range ents {
			info, err := e.Info()
			if err != nil {
				die("%s: %v", e.Name(), err)
			}
			fmt.Printf("%s dir=%v mode=%v size=%d\n", e.Name(), e.IsDir(), info.Mode(), info.Size())
		}
	case "stat": // os.Stat and os.Lstat
		for _, p := range a {
			st, err := os.Stat(p)
			if err != nil {
				fmt.Printf("%s: %v\n", p, err)
				continue
			}
			fmt.Printf("%s: size=%d mode=%v dir=%v\n", p, st.Size(), st.Mode(), st.IsDir())
		}
	case "write": // os.WriteFile, append, read back, rename, remove
		p := a[0]
		if err := os.WriteFile(p, []byte(a[1]+"\n"), 0644); err != nil {
			die("write: %v", err)
		}
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			die("append open: %v", err)
		}
		fmt.Fprintf(f, "appended\n")
		f.Close()
		b, err := os.ReadFile(p)
		if err != nil {
			die("read back: %v", err)
		}
		fmt.Printf("%s", b)
		if err := os.Rename(p, p+".moved"); err != nil {
			die("rename: %v", err)
		}
		if err := os.Mkdir(p+".d", 0755); err != nil {
			die("mkdir: %v", err)
		}
		if err := os.Remove(p + ".d"); err != nil {
			die("rmdir: %v", err)
		}
		st, err := os.Stat(p + ".moved")
		if err != nil {
			die("stat: %v", err)
		}
		fmt.Printf("moved size=%d mode=%v\n", st.Size(), st.Mode())
		// a hard link, a FIFO and an owner change (linkat, mknodat and
		// fchownat through Syscall6)
		if err := os.Link(p+".moved", p+".hard"); err != nil {
			die("link: %v", err)
		}
		if err := syscall.Mkfifo(p+".fifo", 0600); err != nil {
			die("mkfifo: %v", err)
		}
		if err := os.Chown(p+".hard", 1234, 4321); err != nil {
			die("chown: %v", err)
		}
		for _, q := range []string{p + ".moved", p + ".fifo"} {
			st, err := os.Stat(q)
			if err != nil {
				die("stat: %v", err)
			}
			sys := st.Sys().(*syscall.Stat_t)
			fmt.Printf("%s: mode=%v nlink=%d owner=%d:%d\n", q[len(p):], st.Mode(),
				sys.Nlink, sys.Uid, sys.Gid)
		}
		os.Remove(p + ".hard")
		os.Remove(p + ".fifo")
		if err := os.Remove(p + ".moved"); err != nil {
			die("remove: %v", err)
		}
		_, err = os.Stat(p)
		fmt.Printf("after remove: exists=%v\n", !os.IsNotExist(err))
	case "http": // net/http GET
		c := &http.Client{Timeout: 20 * time.Second}
		r, err := c.Get(a[0])
		if err != nil {
			die("%v", err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		fmt.Printf("%s\n%s", r.Status, b)
	case "lookup": // lookup go|cgo HOST...: net.LookupHost with that resolver
		// GODEBUG is read at the first lookup; +1 reports the choice on
		// stderr.  Set here: the layer gives the program the target's
		// environment, where the caller's GODEBUG is not.
		os.Setenv("GODEBUG", "netdns="+a[0]+"+1")
		for _, h := range a[1:] {
			addrs, err := net.LookupHost(h)
			if err != nil {
				fmt.Printf("%s: not found\n", h)
				continue
			}
			sort.Strings(addrs)
			fmt.Printf("%s: %s\n", h, strings.Join(addrs, " "))
		}
	case "exec": // os/exec: a child with its output through a pipe
		out, err := exec.Command(a[0], a[1:]...).CombinedOutput()
		fmt.Printf("%s", out)
		if err != nil {
			die("%v", err)
		}
	case "cwd": // cwd DIR...: os.Chdir into each, os.Getwd, relative paths
		for _, d := range a {
			if err := os.Chdir(d); err != nil {
				fmt.Printf("%v\n", err)
				continue
			}
			wd, err := os.Getwd()
			fmt.Printf("getwd %s %v\n", wd, err)
			ents, err := os.ReadDir(".")
			for _, e := range ents {
				fmt.Printf("  %s dir=%v\n", e.Name(), e.IsDir())
			}
			if err != nil {
				fmt.Printf("  readdir: %v\n", err)
			}
			for _, f := range []string{"README.txt", "c.txt", "b/deep.txt"} {
				if b, err := os.ReadFile(f); err == nil {
					fmt.Printf("  %s: %q\n", f, b)
				} else {
					fmt.Printf("  %v\n", err)
				}
			}
		}
		if err := os.Chdir(".."); err != nil {
			fmt.Printf("chdir ..: %v\n", err)
		}
		wd, err := os.Getwd()
		fmt.Printf("after ..: %s %v\n", wd, err)
		// File.Chdir: fchdir
		if f, err := os.Open("/srv/gt/a/b"); err == nil {
			err = f.Chdir()
			f.Close()
			wd, _ = os.Getwd()
			b, rerr := os.ReadFile("deep.txt")
			fmt.Printf("fchdir %v: %s %q %v\n", err, wd, b, rerr)
			// a child inherits it (Go execs with raw system calls)
			out, err := exec.Command("/bin/sh", "-c", "pwd -P; cat deep.txt").CombinedOutput()
			fmt.Printf("child %v: %s", err, out)
		}
		os.Chdir("/tmp")
		wd, err = os.Getwd()
		fmt.Printf("back: %s %v\n", wd, err)
	case "env":
		for _, n := range a {
			fmt.Printf("%s=%s\n", n, os.Getenv(n))
		}
	case "stress": // goroutines doing remote stats, reads and connects
		stress(a)
	case "serve": // serve PORT: net/http on :PORT for one request, which is
		// answered with the client and local addresses the server saw;
		// then the listener is closed (incoming traffic, tests/layer/incoming.sh)
		serve(a[0])
	default:
		die("unknown command %s", os.Args[1])
	}
}

// stress ROUNDS FILE HOST:PORT [GOROUTINES]: GOROUTINES goroutines
// (default 32), each doing ROUNDS of stat + read of FILE and, every 4th
// round, a TCP connect + HTTP request to HOST:PORT, while another goroutine
// allocates and forces collections (runtime.GC) until they are done: stacks
// get scanned, moved and shrunk, and goroutines preempted, while calls are in
// the layer.  Prints only totals, so both runs print the same lines.
func stress(a []string) {
	var rounds, gs int
	fmt.Sscan(a[0], &rounds)
	gs = 32
	if len(a) > 3 {
		fmt.Sscan(a[3], &gs)
	}
	want, err := os.ReadFile(a[1])
	if err != nil {
		die("%v", err)
	}
	var bad, ok int64
	var wg sync.WaitGroup
	done := make(chan struct{})
	gcs := make(chan int)
	go func() { // the collector's load
		n := 0
		var keep [][]byte
		for {
			select {
			case <-done:
				gcs <- n
				return
			default:
			}
			keep = append(keep, make([]byte, 64<<10))
			if len(keep) > 64 {
				keep = keep[:0]
			}
			runtime.GC()
			n++
			time.Sleep(time.Millisecond)
		}
	}()
	for g := 0; g < gs; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				if st, err := os.Stat(a[1]); err != nil || st.Size() != int64(len(want)) {
					atomic.AddInt64(&bad, 1)
				}
				if b, err := os.ReadFile(a[1]); err != nil || string(b) != string(want) {
					atomic.AddInt64(&bad, 1)
				}
				if (g+i)%4 == 0 {
					c, err := net.DialTimeout("tcp", a[2], 10*time.Second)
					if err != nil {
						atomic.AddInt64(&bad, 1)
						continue
					}
					fmt.Fprintf(c, "HEAD / HTTP/1.0\r\n\r\n")
					b := make([]byte, 12)
					if _, err := io.ReadFull(c, b); err != nil || string(b[:5]) != "HTTP/" {
						atomic.AddInt64(&bad, 1)
					}
					c.Close()
				}
				atomic.AddInt64(&ok, 1)
			}
		}(g)
	}
	wg.Wait()
	close(done)
	if n := <-gcs; n == 0 {
		die("stress: no collection ran")
	}
	fmt.Printf("rounds=%d bad=%d\n", ok, bad)
}

func serve(port string) {
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		die("%v", err)
	}
	done := make(chan struct{}, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		fmt.Fprintf(w, "remote=%s local=%v\n", r.RemoteAddr, la)
		select {
		case done <- struct{}{}:
		default:
		}
	})}
	go srv.Serve(ln)
	<-done
	time.Sleep(100 * time.Millisecond)
	srv.Close() // the listener too: the target's port is released
	time.Sleep(time.Second)
}
