// An HTTP/1.1 server (net/http) answering WORD to every request, one line
// per request on stdout: METHOD PATH X-REQ BODY_BYTES.
//
//	server WORD PORT
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
)

func main() {
	word, port := os.Args[1], os.Args[2]
	var mu sync.Mutex
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		xreq := r.Header.Get("X-Req")
		if xreq == "" {
			xreq = "-"
		}
		mu.Lock()
		fmt.Printf("%s %s %s %d\n", r.Method, r.URL.RequestURI(), xreq, n)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, word+"\n")
	})
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
