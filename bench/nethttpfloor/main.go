// Command nethttpfloor is the reference point of the Crowd REST latency
// benchmark (bench/rest_test.go): a Go net/http server that answers every
// request with the same body, prepared once, after checking the Basic
// credentials by comparing bytes. It does what any Go HTTP server does
// for a request (parse it, route nothing, write the response) and nothing
// else, with the runtime settings of `dirgate serve` (at least twelve Go
// processors): its latency under the benchmark's load is the floor that
// net/http and the machine set for any handler.
//
//	nethttpfloor ADDR BODY-BYTES AUTHORIZATION
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: nethttpfloor ADDR BODY-BYTES AUTHORIZATION")
		os.Exit(2)
	}
	size, err := strconv.Atoi(os.Args[2])
	if err != nil || size < 0 || size > 1<<20 {
		fmt.Fprintf(os.Stderr, "nethttpfloor: bad body size %q\n", os.Args[2])
		os.Exit(2)
	}
	auth := os.Args[3]
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < 12 {
		runtime.GOMAXPROCS(12) // as dirgate serve does (serveMinProcs)
	}
	const group = `<group name="group-00000"><link href="http://dirgate/rest/usermanagement/1/group?groupname=group-00000" rel="self"/></group>`
	head, tail := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><groups expand="group">`, `</groups>`
	fill := max(0, size-len(head)-len(tail))
	body := []byte(head + strings.Repeat(group, fill/len(group)+1)[:fill] + tail)
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "nethttpfloor:", err)
		os.Exit(1)
	}
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != auth {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/xml"}
		h["X-Embedded-Crowd-Version"] = []string{"Crowd/7.1.0"}
		w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, "nethttpfloor:", err)
	os.Exit(1)
}
