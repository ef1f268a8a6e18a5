// gobench: the Go side of bench/go-run (docs/benchmarks.md, "Go").  Each
// subcommand times a loop and prints one line "NAME N p50 p99 mean", all in
// nanoseconds per operation, so that a run under the layer and a run inside
// the target (or without the layer) can be put side by side.
//
//	gobench readat FILE N     f.ReadAt of 64 bytes at offset 0, N times
//	gobench readfile FILE N   os.ReadFile of FILE, N times
//	gobench http URL N        GET URL over one keep-alive connection, N times
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"
)

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gobench: "+format+"\n", a...)
	os.Exit(1)
}

// report prints the per-operation figures of samples (ns each).
func report(name string, samples []int64) {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	var sum int64
	for _, s := range samples {
		sum += s
	}
	n := len(samples)
	fmt.Printf("%s %d %d %d %d\n", name, n, samples[n/2], samples[n*99/100], sum/int64(n))
}

// batched times n calls of op in batches of 100 (a single ReadAt is too
// short for one clock reading each) and returns the per-call time of each
// batch.
func batched(n int, op func()) []int64 {
	const batch = 100
	var out []int64
	for done := 0; done < n; done += batch {
		t := time.Now()
		for i := 0; i < batch; i++ {
			op()
		}
		out = append(out, time.Since(t).Nanoseconds()/batch)
	}
	return out
}

// each times every one of n calls of op.
func each(n int, op func()) []int64 {
	out := make([]int64, 0, n)
	for i := 0; i < n; i++ {
		t := time.Now()
		op()
		out = append(out, time.Since(t).Nanoseconds())
	}
	return out
}

func main() {
	if len(os.Args) != 4 {
		die("usage: gobench readat|readfile|http FILE|URL N")
	}
	what, arg := os.Args[1], os.Args[2]
	n, err := strconv.Atoi(os.Args[3])
	if err != nil || n < 1 {
		die("N must be a positive number, not %q", os.Args[3])
	}
	switch what {
	case "readat":
		f, err := os.Open(arg)
		if err != nil {
			die("%v", err)
		}
		buf := make([]byte, 64)
		op := func() {
			if _, err := f.ReadAt(buf, 0); err != nil && err != io.EOF {
				die("%v", err)
			}
		}
		batched(n/10+100, op) // warm-up
		report("readat", batched(n, op))
	case "readfile":
		op := func() {
			if _, err := os.ReadFile(arg); err != nil {
				die("%v", err)
			}
		}
		each(n/10+1, op)
		report("readfile", each(n, op))
	case "http":
		c := &http.Client{Timeout: 20 * time.Second}
		op := func() {
			r, err := c.Get(arg)
			if err != nil {
				die("%v", err)
			}
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				die("%v", err)
			}
			r.Body.Close()
			if r.StatusCode != 200 {
				die("%s: %s", arg, r.Status)
			}
		}
		each(n/10+1, op)
		report("http", each(n, op))
	default:
		die("unknown benchmark %q", what)
	}
}
