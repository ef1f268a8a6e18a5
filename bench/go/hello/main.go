// hello: the static Go program whose start bench/supervisor-run times
// (built with CGO_ENABLED=0: a static binary the layer cannot enter).
package main

import "os"

func main() {
	os.Stdout.WriteString("hello\n")
}
