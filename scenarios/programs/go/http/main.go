// A Go service's start-up: it reads its config file and environment from
// where it runs, then calls a cluster-only HTTP API by name.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

type config struct {
	API     string `json:"api"`
	Workers int    `json:"workers"`
}

func main() {
	raw, err := os.ReadFile("/etc/app/config.json")
	if err != nil {
		fmt.Println("config:", err)
		os.Exit(1)
	}
	var cfg config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		fmt.Println("config:", err)
		os.Exit(1)
	}
	fmt.Printf("config: api=%s workers=%d\n", cfg.API, cfg.Workers)
	fmt.Printf("env: APP_MODE=%q APP_REGION=%q\n", os.Getenv("APP_MODE"), os.Getenv("APP_REGION"))
	host, _ := os.Hostname()
	fmt.Println("hostname:", host)
	addrs, err := net.LookupHost("api.cluster")
	fmt.Printf("lookup api.cluster: %d address(es), err=%v\n", len(addrs), err)
	client := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/hello.txt", "/missing"} {
		resp, err := client.Get(cfg.API + path)
		if err != nil {
			fmt.Println("GET", path, "error:", err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("GET %s: %d %q\n", path, resp.StatusCode, string(body))
	}
}
